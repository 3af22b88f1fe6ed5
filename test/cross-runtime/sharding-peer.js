// One sharding node in its own process, on any runtime, for the cross-runtime sharding test.
//   sharding-peer.js runner <seed host:port | -> <runners>
//   sharding-peer.js client <seed host:port> <runners>
// A runner hosts the entity type `probe` (an entity answers with its runtime and id); once its
// allocation spreads the shards evenly over all the runners it prints {"ready"}. Runner or client, it
// then asks 100 entities where they live and prints {"answers": {id: runtime}}; a runner stays
// up (until killed) so that the shards stay put.
import { ActorSystem, Cluster, NodeAddress, Sharding, detectRuntime } from 'actor-cluster-bare'
import { args, exit } from '../helpers/proc.js'

const [role, seed, runners] = args()
const runtime = detectRuntime()
setTimeout(() => exit(3), 100_000)

const system = ActorSystem.create('mixed-shards', { logLevel: 'warn' })
const cluster = await Cluster.join(system, {
  port: 0,
  clientOnly: role === 'client',
  seeds: seed === '-' ? [] : [NodeAddress.from(seed, 'mixed-shards')],
  gossipIntervalMs: 100,
  heartbeatIntervalMs: 200
})
const sharding = Sharding.start(system, cluster, { numberOfShards: 40, tickMs: 100 })
if (role === 'runner') sharding.register('probe', (id) => (msg, ctx) => ctx.reply({ runtime, id, got: msg }))
console.log(JSON.stringify({ address: cluster.self.toString(), runtime }))

// Every shard owned (none in handoff), by all the runners, evened out: the leader moves no more.
const spread = () => {
  const counts = Object.values(sharding.stats().shardsPerNode.probe ?? {})
  return counts.length === Number(runners) && counts.reduce((a, b) => a + b, 0) === 40 && Math.max(...counts) - Math.min(...counts) <= 1
}
while (!spread()) await sleep(50)
if (role === 'runner') console.log(JSON.stringify({ ready: true }))

const answers = {}
let error = null
try {
  const ids = Array.from({ length: 100 }, (_, i) => 'probe-' + i)
  const replies = await Promise.all(ids.map((id) => sharding.entity('probe', id).ask({ from: runtime, big: 1n << 65n }, { timeoutMs: 20_000 })))
  replies.forEach((r, i) => {
    if (r.id !== ids[i] || r.got.from !== runtime || r.got.big !== 1n << 65n) error = `a wrong answer for ${ids[i]}`
    answers[ids[i]] = r.runtime
  })
} catch (err) {
  error = String(err)
}
console.log(JSON.stringify({ answers, error, dropped: sharding.stats().dropped }))
if (role === 'client') {
  await system.terminate()
  exit(0)
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
