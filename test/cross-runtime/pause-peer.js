// A cluster node that is stopped (SIGSTOP) and continued (SIGCONT) by the test. Prints
// {"address"} once up; then, a second after it woke, what its cluster did about the pause:
// {"pauses", "refutations", "unreachableSeen", "status"}.
//   pause-peer.js <seed host:port>
import { ActorSystem, Cluster, detectRuntime } from 'actor-cluster-bare'
import { args, exit } from '../helpers/proc.js'
import { PAUSE_CLUSTER } from './pause-settings.js'

const [seed] = args()
setTimeout(() => exit(3), 90_000)
const system = ActorSystem.create('pause', { logLevel: 'silent' })
const cluster = await Cluster.join(system, { ...PAUSE_CLUSTER, port: 0, seeds: [seed] })
const unreachableSeen = []
cluster.on('member-unreachable', (m) => unreachableSeen.push(m.address.toString()))
await cluster.ready({ timeoutMs: 20_000 })
console.log(JSON.stringify({ address: cluster.self.toString(), runtime: detectRuntime() }))
// The test's own sign of the stop, apart from the cluster's: this 20 ms interval firing a
// second late.
let last = Date.now()
const timer = setInterval(() => {
  const t = Date.now()
  const late = t - last > 1000
  last = t
  if (!late) return
  clearInterval(timer)
  setTimeout(() => {
    const s = cluster.stats()
    const status = cluster.member(cluster.self)?.status ?? null
    console.log(JSON.stringify({ pauses: s.pausesDetected, refutations: s.refutations, unreachableSeen, status }))
  }, 1000)
}, 20)
