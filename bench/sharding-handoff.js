// How long a sharded entity is out of reach while its shard moves: two runners host 40
// entities, a client-only node asks them, one ask at a time per entity, and a third runner
// starts hosting the type. For every entity whose shard moved, the pause is its longest ask
// during the move; beside it, the ask round trip before, and the longest ask of an entity that
// did not move (all nodes share one process, so a stall of its event loop shows in both).
// Sharding options are the defaults (a rebalance round every 500 ms), on loopback.
//   <runtime> bench/sharding-handoff.js
import { ActorSystem, Cluster, Sharding, monotonicNow } from 'actor-cluster-bare'
import { exit } from '../test/helpers/proc.js'

const ENTITIES = 40
const TIMINGS = { gossipIntervalMs: 100, heartbeatIntervalMs: 200 }

async function node(seed, clientOnly = false, host = !clientOnly) {
  const system = ActorSystem.create('handoff', { logLevel: 'error' })
  const cluster = await Cluster.join(system, { port: 0, clientOnly, seeds: seed === null ? [] : [seed], ...TIMINGS })
  const sharding = Sharding.start(system, cluster)
  const n = { system, cluster, sharding, host: () => sharding.register('e', () => (msg, ctx) => ctx.reply(msg)) }
  if (host) n.host()
  return n
}

const spread = (s, n) => Object.keys(s.stats().shardsPerNode.e ?? {}).length === n
async function until(cond, ms) {
  const deadline = Date.now() + ms
  while (!cond() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
}

const a = await node(null)
const b = await node(a.cluster.self)
const client = await node(a.cluster.self, true)
await until(() => spread(client.sharding, 2), 20_000)
const ids = Array.from({ length: ENTITIES }, (_, i) => 'e' + i)
const ownerOf = (id) => client.sharding.ownerOf('e', client.sharding.shardOf(id))?.toString() ?? null

let phase = 'before'
const before = []
const worst = new Map()
let running = true
const loops = ids.map(async (id) => {
  const ref = client.sharding.entity('e', id)
  while (running) {
    const t0 = monotonicNow()
    await ref.ask(1, { timeoutMs: 30_000 })
    const dt = monotonicNow() - t0
    if (phase === 'before') before.push(dt)
    else worst.set(id, Math.max(worst.get(id) ?? 0, dt))
  }
})
// The third runner joins first and registers the type later, so that its start is not counted.
const c = await node(a.cluster.self, false, false)
await until(() => c.cluster.members().filter((m) => m.status === 'up').length === 3, 20_000)
await new Promise((resolve) => setTimeout(resolve, 1000))
const owners = new Map(ids.map((id) => [id, ownerOf(id)]))
phase = 'during'
const joinedAt = Date.now()
c.host()
await until(() => spread(client.sharding, 3) && a.sharding.stats().handoffs + b.sharding.stats().handoffs > 0, 30_000)
await until(() => {
  const per = Object.values(client.sharding.stats().shardsPerNode.e ?? {})
  return per.length === 3 && Math.max(...per) - Math.min(...per) <= 1
}, 30_000)
await new Promise((resolve) => setTimeout(resolve, 1000))
running = false
await Promise.all(loops)
const moved = ids.filter((id) => ownerOf(id) !== owners.get(id))
const pauses = moved.map((id) => worst.get(id) ?? 0).sort((x, y) => x - y)
const still = ids.filter((id) => !moved.includes(id)).map((id) => worst.get(id) ?? 0).sort((x, y) => x - y)
before.sort((x, y) => x - y)
const pick = (list, q) => (list.length === 0 ? 0 : list[Math.min(list.length - 1, Math.floor(list.length * q))])
const out = {
  entities: ENTITIES,
  moved: moved.length,
  rebalanceMs: Date.now() - joinedAt,
  askP50BeforeMs: pick(before, 0.5),
  pauseP50Ms: pick(pauses, 0.5),
  pauseMaxMs: pick(pauses, 1),
  unmovedWorstMs: pick(still, 1)
}
console.log(JSON.stringify(out))
for (const n of [client, c, b, a]) await n.system.terminate({ leave: false })
exit(0)
