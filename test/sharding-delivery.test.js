// What becomes of messages to entities on the in-memory bus: they go as actor envelopes to the
// entity's path, refs to entities route from any node, nothing is lost without a count (expired
// in the buffer, lost on the way to an owner), an entity ask takes its answer only from the node
// it went to, and the counters reach metrics().
import test from 'brittle'
import { ShardedCluster } from './helpers/sharding.js'
import { until } from './helpers/transport.js'

test('an entity tell crosses as one actor envelope to /sharding/<type>/<id> on the owner', async (t) => {
  const kit = new ShardedCluster(t)
  const a = await kit.add({ host: false })
  const b = await kit.add()
  await kit.awaitUp(2)
  await kit.awaitAllocated('counter', [b])
  const seen = []
  const onmessage = b.cluster.onenvelope
  b.cluster.onenvelope = (from, msg) => {
    seen.push(msg.to)
    onmessage(from, msg)
  }
  const channelBefore = a.cluster.transport.stats(b.cluster.self).framesOut
  const ref = a.sharding.entity('counter', 'room-1')
  t.is(ref.localPath, '/sharding/counter/room-1')
  for (let i = 0; i < 20; i++) ref.tell({ add: 1 })
  t.is(await ref.ask('count', { timeoutMs: 5000 }), 20)
  t.is(seen.filter((to) => to === '/sharding/counter/room-1').length, 21, 'each message one envelope to the entity path')
  t.ok(a.cluster.transport.stats(b.cluster.self).framesOut - channelBefore < 30, 'and nothing else per message')
  t.is(a.sharding.stats().forwarded + b.sharding.stats().forwarded, 0)
})

test('ids with / and % reach their entity from another node; refs to entities sent inside messages route', async (t) => {
  const kit = new ShardedCluster(t)
  const a = await kit.add({ host: false })
  const b = await kit.add()
  const c = await kit.add({ host: false })
  await kit.awaitUp(3)
  await kit.awaitAllocated('counter', [b])
  for (const id of ['a/system/b', '50%', 'x/y%2Fz', 'ü/ß']) {
    const ref = a.sharding.entity('counter', id)
    ref.tell({ add: 2 })
    t.is(await ref.ask('count', { timeoutMs: 5000 }), 2, `entity ${id}`)
  }
  t.absent(a.sharding.entity('counter', 'a/system/b').localPath.includes('/system/'), 'no id makes a /system/ path')
  // A ref to an entity, sent to an actor on another node, reaches the entity when told there.
  const got = []
  c.system.spawn('relay', (msg) => {
    msg.target.tell({ add: 5 })
    got.push(msg.target.path)
  })
  a.system.ref(c.cluster.self.toString() + '/user/relay').tell({ target: a.sharding.entity('counter', 'relayed') })
  await until(() => got.length === 1, 5000, 'the relay got the ref')
  let count = 0
  for (let i = 0; i < 100 && count !== 5; i++) {
    count = await a.sharding.entity('counter', 'relayed').ask('count', { timeoutMs: 5000 })
    if (count !== 5) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.is(count, 5, 'the relayed tell arrived')
  t.is(kit.liveEntities().get('counter/relayed').size, 1)
  t.ok(kit.liveEntities().get('counter/relayed').has(b.name), 'on the owner')
})

test('the buffer has a time limit: messages with no owner expire, counted, and asks fail at once', async (t) => {
  const kit = new ShardedCluster(t, { sharding: { bufferTimeoutMs: 150 } })
  const a = await kit.add({ host: false })
  await kit.awaitUp(1)
  const ref = a.sharding.entity('counter', 'nobody-hosts-me')
  for (let i = 0; i < 5; i++) ref.tell({ add: 1 })
  t.is(a.sharding.stats().buffered, 5)
  const asked = ref.ask('count', { timeoutMs: 10_000 })
  const started = Date.now()
  await t.exception(asked, /UNREACHABLE/, 'the ask fails when its message expires')
  t.ok(Date.now() - started < 5000, 'long before its own timeout')
  await until(() => a.sharding.stats().buffered === 0, 5000, 'the buffer emptied')
  t.is(a.sharding.stats().droppedByReason.expired, 6, 'every message counted as expired')
  t.is(a.sharding.stats().dropped, 6)
})

test('messages the transport loses on the way to an owner are counted as owner-lost', async (t) => {
  const kit = new ShardedCluster(t)
  const a = await kit.add({ host: false })
  const b = await kit.add()
  await kit.awaitUp(2)
  await kit.awaitAllocated('counter', [b])
  const ref = a.sharding.entity('counter', 'lossy')
  t.is(await ref.ask('count', { timeoutMs: 5000 }), 0)
  kit.bus.setLink(a.cluster.self, b.cluster.self, { drop: 1 })
  for (let i = 0; i < 7; i++) ref.tell({ add: 1 })
  kit.bus.setLink(a.cluster.self, b.cluster.self, null)
  t.is(a.sharding.stats().droppedByReason['owner-lost'], 7)
  t.is(a.sharding.stats().dropped, 7)
  t.is(await ref.ask('count', { timeoutMs: 5000 }), 0, 'none arrived')
})

test('an entity ask takes its answer only from the node it went to', async (t) => {
  const kit = new ShardedCluster(t)
  const a = await kit.add({ host: false })
  const b = await kit.add({ host: false })
  const rogue = await kit.add({ host: false })
  await kit.awaitUp(3)
  let asker = null
  b.sharding.register('slow', () => async (msg, ctx) => {
    asker = ctx.sender
    await new Promise((resolve) => setTimeout(resolve, 300))
    ctx.reply('from the entity')
  })
  await kit.awaitAllocated('slow', [b])
  const answer = a.sharding.entity('slow', 's1').ask('hello', { timeoutMs: 5000 })
  await until(() => asker !== null, 5000, 'the entity has the ask')
  // Another member that learned the reply path answers first: ignored and counted.
  rogue.system.ref(asker.path).tell('forged')
  await until(() => a.system.stats().remote.forgedReplies === 1, 5000, 'the forged reply counted')
  t.is(await answer, 'from the entity')
})

test('sharding counters appear in cluster.metrics()', async (t) => {
  const { parseExposition } = await import('./helpers/prometheus.js')
  const kit = new ShardedCluster(t, { sharding: { bufferSize: 2 } })
  const a = await kit.add({ host: false })
  await kit.awaitUp(1)
  for (let i = 0; i < 3; i++) a.sharding.entity('counter', 'm').tell({ add: 1 })
  const text = a.cluster.metrics()
  const families = parseExposition(text)
  const dropped = families.get('actor_cluster_sharding_dropped_total')
  t.ok(dropped, 'a dropped family')
  t.alike(dropped.samples.map((s) => [s.labels.reason, s.value]), [['buffer-full', 1]])
  t.is(families.get('actor_cluster_sharding_buffered').samples[0].value, 2)
  t.ok(families.has('actor_cluster_sharding_handoffs_total'))
})
