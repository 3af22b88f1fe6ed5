// A cluster node that is stopped (SIGSTOP) and continued (SIGCONT) by the test. Prints
// {"address"} once up; then, once it has noticed its own pause and a second has passed, what it
// did about it: {"pauses", "refutations", "unreachableSeen", "status"}.
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
const timer = setInterval(() => {
  if (cluster.stats().pausesDetected === 0) return
  clearInterval(timer)
  setTimeout(() => {
    const s = cluster.stats()
    const status = cluster.member(cluster.self)?.status ?? null
    console.log(JSON.stringify({ pauses: s.pausesDetected, refutations: s.refutations, unreachableSeen, status }))
  }, 1000)
}, 20)
