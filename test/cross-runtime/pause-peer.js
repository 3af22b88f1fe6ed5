// A cluster node that is stopped (SIGSTOP) and continued (SIGCONT) by the test. Prints
// {"address"} once up; then, once it has woken from the stop and dealt with it (or after 8 s
// awake), what its cluster did about the pause:
// {"gapMs", "pauses", "refutations", "unreachableSeen", "status"}.
//   pause-peer.js <seed host:port>
import { ActorSystem, Cluster, detectRuntime } from 'actor-cluster-bare'
import { args, exit } from '../helpers/proc.js'
import { PAUSE_CLUSTER, PAUSE_MS } from './pause-settings.js'

const [seed] = args()
setTimeout(() => exit(3), 90_000)
const system = ActorSystem.create('pause', { logLevel: 'silent' })
const cluster = await Cluster.join(system, { ...PAUSE_CLUSTER, port: 0, seeds: [seed] })
const unreachableSeen = []
cluster.on('member-unreachable', (m) => unreachableSeen.push(m.address.toString()))
await cluster.ready({ timeoutMs: 20_000 })

// The test's own sign of the stop, apart from the cluster's: this 20 ms interval firing more than
// half the stop late. It starts before the address is printed, since the test may stop this
// process the moment that line arrives. A shorter lateness (a busy machine) is not the stop.
let last = Date.now()
const watch = setInterval(() => {
  const now = Date.now()
  const gap = now - last
  last = now
  if (gap < PAUSE_MS / 2) return
  clearInterval(watch)
  report(gap, now)
}, 20)
console.log(JSON.stringify({ address: cluster.self.toString(), runtime: detectRuntime() }))

// Waits until, a second or more after waking, the cluster has counted its pause, refuted the
// accusation and sees itself up, or until 8 s after waking; then prints what it saw either way
// (the test judges it).
function report(gapMs, wokeAt) {
  const s = cluster.stats()
  const status = cluster.member(cluster.self)?.status ?? null
  const awake = Date.now() - wokeAt
  const settled = s.pausesDetected >= 1 && s.refutations >= 1 && status === 'up' && awake >= 1000
  if (!settled && awake < 8000) {
    setTimeout(() => report(gapMs, wokeAt), 50)
    return
  }
  console.log(JSON.stringify({ gapMs, pauses: s.pausesDetected, refutations: s.refutations, unreachableSeen, status }))
}
