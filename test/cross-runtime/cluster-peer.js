// One cluster node in its own process, on any runtime.
//   cluster-peer.js <seed host:port | -> <expected members>
// Prints {"address"} once listening, then {"up": n, "leader"} each time the number of reachable
// up members or the leader changes, and {"removed": address} when a member is removed.
import { Cluster, TcpTransport, NodeAddress, detectRuntime } from 'actor-cluster-bare'
import { args, exit } from '../helpers/proc.js'

const [seed] = args()
setTimeout(() => exit(3), 90_000)

const transport = new TcpTransport({ self: new NodeAddress('mixed', '127.0.0.1', 0), heartbeatIntervalMs: 0 })
await transport.start()
const self = transport.self
const cluster = await Cluster.join(
  { name: 'mixed' },
  {
    transport,
    seeds: [seed === '-' ? self : NodeAddress.from(seed, 'mixed')],
    gossipIntervalMs: 100,
    heartbeatIntervalMs: 100,
    downAfterMs: 1000,
    failureDetector: { minStdDeviationMs: 50, acceptableHeartbeatPauseMs: 300 }
  }
)
console.log(JSON.stringify({ address: self.toString(), runtime: detectRuntime() }))
let last = ''
const report = () => {
  const up = cluster.members().filter((m) => m.status === 'up' && m.reachable).length
  const line = JSON.stringify({ up, leader: String(cluster.leader) })
  if (line !== last) {
    last = line
    console.log(line)
  }
}
for (const e of ['member-up', 'member-reachable', 'member-unreachable', 'member-down', 'leader-changed']) cluster.on(e, report)
cluster.on('member-removed', (m) => {
  console.log(JSON.stringify({ removed: m.address.toString() }))
  report()
})
report()
