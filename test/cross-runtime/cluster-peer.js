// One cluster node in its own process, on any runtime.
//   cluster-peer.js <seed host:port | -> [port]
// Prints {"address", "runtime", "key"} once listening (key: its public key, hex), then {"up": n,
// "leader", "forgers"} each time the number of reachable up members, the leader or the count of
// peers cut off for forged records changes, and {"removed": address} when a member is removed.
import { Cluster, TcpTransport, NodeAddress, detectRuntime } from 'actor-cluster-bare'
import { args, exit } from '../helpers/proc.js'

const [seed, port = '0'] = args()
setTimeout(() => exit(3), 90_000)

const transport = new TcpTransport({ self: new NodeAddress('mixed', '127.0.0.1', Number(port)), heartbeatIntervalMs: 0 })
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
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
console.log(JSON.stringify({ address: self.toString(), runtime: detectRuntime(), key: hex(cluster.publicKey) }))
let last = ''
const report = () => {
  const up = cluster.members().filter((m) => m.status === 'up' && m.reachable).length
  // Peers cut off for a record whose signature or range did not check.
  const forgers = cluster.stats().forgersDisconnected
  const line = JSON.stringify({ up, leader: String(cluster.leader), forgers })
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
