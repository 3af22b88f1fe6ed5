// Cluster figures on an in-memory bus, in one process: time for N nodes to converge, gossip bytes
// per node per round once converged (steady state), at 5, 15 and 30 nodes; then, with the
// default timings, how long the others take to see a killed node unreachable and removed.
//   <runtime> bench/cluster.js [sizes=5,15,30]
import { ClusterTestKit } from 'actor-cluster-bare/testkit'
import { args, exit } from '../test/helpers/proc.js'

const [sizesArg = '5,15,30'] = args()
const STEADY_MS = 2000
const out = { sizes: [], detection: null }
for (const n of sizesArg.split(',').map(Number)) {
  const kit = await ClusterTestKit.start({ nodes: n, cluster: { gossipIntervalMs: 100, heartbeatIntervalMs: 100, downAfterMs: 60000 } })
  const ms = await kit.awaitUp(n, 60000)
  // Let the last versions spread before measuring the steady state.
  await kit.awaitCondition(() => new Set(kit.running().map((c) => c.members().map((m) => m.status).join())).size === 1, 10000)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const before = kit.running().map((c) => c.stats())
  await new Promise((resolve) => setTimeout(resolve, STEADY_MS))
  const after = kit.running().map((c) => c.stats())
  let bytes = 0
  let rounds = 0
  let messages = 0
  after.forEach((a, i) => {
    bytes += a.gossipBytesSent - before[i].gossipBytesSent
    messages += a.gossipMessagesSent - before[i].gossipMessagesSent
    rounds += a.gossipRounds - before[i].gossipRounds
  })
  out.sizes.push({ nodes: n, convergeMs: ms, bytesPerNodePerRound: bytes / rounds, messagesPerNodePerRound: messages / rounds })
  console.error(`${n} nodes: converged in ${ms} ms; steady state ${Math.round(bytes / rounds)} gossip bytes and ${(messages / rounds).toFixed(1)} messages per node per round`)
  await kit.shutdown()
}

// Detection with the defaults (heartbeat 1 s, phi threshold 8, acceptable pause 3 s, down after 10 s).
{
  const kit = await ClusterTestKit.start({
    nodes: 5,
    cluster: { gossipIntervalMs: 500, heartbeatIntervalMs: 1000, downAfterMs: 10000, seedRetryBaseMs: 200, failureDetector: {} }
  })
  await kit.awaitUp(5, 30000)
  await new Promise((resolve) => setTimeout(resolve, 5000)) // let the detectors learn the interval
  const victim = kit.addresses[4]
  const crashed = Date.now()
  await kit.crash(4)
  const seen = (status) => kit.running().every((c) => (status === 'unreachable' ? c.member(victim)?.reachable === false : c.member(victim)?.status === status))
  await kit.awaitCondition(() => seen('unreachable') || seen('removed'), 60000)
  const unreachableAt = Date.now() - crashed
  await kit.awaitCondition(() => seen('removed'), 60000)
  out.detection = { unreachableMs: unreachableAt, removedMs: Date.now() - crashed }
  console.error(`default timings, 5 nodes: a killed node is unreachable everywhere after ${unreachableAt} ms, removed after ${out.detection.removedMs} ms`)
  await kit.shutdown()
}

console.log(JSON.stringify(out))
exit(0)
