// Cluster figures on an in-memory bus, in one process: time for N nodes to converge, and gossip
// bytes and CPU per node per round while forming and once converged (steady state), at 5, 15 and
// 30 nodes; Ed25519 sign and verify costs; then, with the default timings, how long the others
// take to see a killed node unreachable and removed. Given the folder of another build of this
// package (say, one from before records were signed), it measures that one too, size by size in
// the same run, and reports this build's figures as ratios to it.
//   <runtime> bench/cluster.js [sizes=5,15,30] [baseline package folder]
import { ClusterTestKit, generateSigningKeyPair, verifySignature } from 'actor-cluster-bare/testkit'
import { monotonicNow } from 'actor-cluster-bare'
import { args, exit } from '../test/helpers/proc.js'

const [sizesArg = '5,15,30', baselineDir = null] = args()
// Long enough for every node to send its periodic full digest once (every 10 rounds per other
// member, rounds of 100 ms), at least 2 s.
const steadyMs = (n) => Math.max(2000, 100 * 10 * (n - 1) * 1.2)
const out = { sizes: [], signing: null, baseline: null, detection: null }
const cpu = await cpuClock()
const baseline = baselineDir === null ? null : await import(toURL(baselineDir + '/dist/testkit.js'))

out.signing = signingCost()
console.error(`ed25519: sign ${out.signing.signUs.toFixed(1)} us, verify ${out.signing.verifyUs.toFixed(1)} us`)

for (const n of sizesArg.split(',').map(Number)) {
  const base = baseline === null ? null : await measure(baseline.ClusterTestKit, n)
  const mine = await measure(ClusterTestKit, n)
  // The same with no periodic full digest: what the signatures alone cost in steady state.
  const summariesOnly = await measure(ClusterTestKit, n, { fullGossipEvery: 1e9 })
  out.sizes.push({ nodes: n, ...mine, summariesOnly, baseline: base })
  console.error(
    `${n} nodes: converged in ${mine.convergeMs} ms; forming ${Math.round(mine.formingBytesPerNodePerRound)} B and ${Math.round(mine.formingCpuUsPerNodePerRound)} us CPU per node per round; ` +
      `steady ${Math.round(mine.bytesPerNodePerRound)} B and ${Math.round(mine.cpuUsPerNodePerRound)} us CPU per node per round`
  )
  if (base !== null) {
    const r = (k) => (base[k] > 0 ? (mine[k] / base[k]).toFixed(2) + 'x' : 'n/a')
    console.error(
      `${n} nodes against the baseline: forming bytes ${r('formingBytesPerNodePerRound')}, CPU ${r('formingCpuUsPerNodePerRound')}, converge time ${r('convergeMs')}; ` +
        `steady bytes ${r('bytesPerNodePerRound')}, CPU ${r('cpuUsPerNodePerRound')}; ` +
        `steady without the periodic full digest: bytes ${ratio(summariesOnly, base, 'bytesPerNodePerRound')}, CPU ${ratio(summariesOnly, base, 'cpuUsPerNodePerRound')}`
    )
  }
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

function ratio(a, b, k) {
  return b[k] > 0 ? (a[k] / b[k]).toFixed(2) + 'x' : 'n/a'
}

async function measure(TestKit, n, extra = {}) {
  const cpu0 = cpu()
  const kit = await TestKit.start({ nodes: n, cluster: { gossipIntervalMs: 100, heartbeatIntervalMs: 100, downAfterMs: 60000, ...extra } })
  const ms = await kit.awaitUp(n, 60000)
  // Let the last versions spread before measuring the steady state.
  await kit.awaitCondition(() => new Set(kit.running().map((c) => c.members().map((m) => m.status).join())).size === 1, 10000)
  const forming = totals(kit)
  const cpu1 = cpu()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const before = totals(kit)
  const cpu2 = cpu()
  await new Promise((resolve) => setTimeout(resolve, steadyMs(n)))
  const after = totals(kit)
  const cpu3 = cpu()
  await kit.shutdown()
  const rounds = after.rounds - before.rounds
  return {
    convergeMs: ms,
    formingBytesPerNodePerRound: forming.bytes / forming.rounds,
    formingCpuUsPerNodePerRound: (cpu1 - cpu0) / forming.rounds,
    bytesPerNodePerRound: (after.bytes - before.bytes) / rounds,
    messagesPerNodePerRound: (after.messages - before.messages) / rounds,
    cpuUsPerNodePerRound: (cpu3 - cpu2) / rounds
  }
}

// Sums over the nodes: rounds are per node, so bytes / rounds is per node per round.
function totals(kit) {
  const sum = { bytes: 0, messages: 0, rounds: 0 }
  for (const c of kit.running()) {
    const s = c.stats()
    sum.bytes += s.gossipBytesSent
    sum.messages += s.gossipMessagesSent
    sum.rounds += s.gossipRounds
  }
  return sum
}

function signingCost() {
  const keys = generateSigningKeyPair()
  const data = new Uint8Array(200).fill(7)
  const n = 2000
  let sig = keys.sign(data)
  let t = monotonicNow()
  for (let i = 0; i < n; i++) sig = keys.sign(data)
  const signUs = ((monotonicNow() - t) / n) * 1000
  t = monotonicNow()
  let ok = true
  for (let i = 0; i < n; i++) ok = verifySignature(keys.publicKey, data, sig) && ok
  const verifyUs = ((monotonicNow() - t) / n) * 1000
  if (!ok) throw new Error('a signature did not verify')
  return { signUs, verifyUs }
}

// Microseconds of CPU (user and system) this process has used.
async function cpuClock() {
  if (typeof globalThis.Bare !== 'undefined') {
    const os = await import('bare-os')
    return () => {
      const u = os.cpuUsage()
      return u.user + u.system
    }
  }
  return () => {
    const u = globalThis.process.cpuUsage()
    return u.user + u.system
  }
}

function toURL(file) {
  return file.startsWith('/') ? 'file://' + file : file
}
