// What becomes of messages to entities on the in-memory bus: they go as actor envelopes to the
// entity's path, refs to entities route from any node, nothing is lost without a count (expired
// in the buffer, lost on the way to an owner), an entity ask takes its answer only from the node
// it went to, each sender's order holds across a handoff, and the counters reach metrics().
import test from 'brittle'
import { ShardedCluster, ids } from './helpers/sharding.js'
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

test('each sender keeps its order across a handoff', async (t) => {
  const kit = new ShardedCluster(t, { sharding: { tickMs: 100 } })
  // Slow entities: a shard takes a while to stop, and messages come to the old owner meanwhile.
  const slow = { entity: { delayMs: 2 } }
  for (let i = 0; i < 2; i++) await kit.add(slow)
  // The sender is not the leader, so it learns of a move no sooner than the old owner does.
  const sender = await kit.add({ host: false })
  await kit.awaitUp(3)
  const runners = () => kit.nodes.filter((n) => n !== sender)
  await kit.awaitAllocated('counter', runners())
  // Every link slow: messages are still on their way to an old owner when its shard moves.
  kit.bus.setDefaultFaults({ delayMs: 20 })
  const all = ids(60, 'o')
  const got = []
  const log = sender.system.spawn('log', (m) => got.push(m))
  let seq = 0
  const send = () => {
    for (const id of all) sender.sharding.entity('counter', id).tell({ add: 1, seq: seq++, log })
  }
  const timer = setInterval(send, 20)
  // A third runner joins: shards move to it while the messages flow.
  await kit.add(slow)
  await kit.awaitUp(4)
  await kit.awaitAllocated('counter', runners())
  clearInterval(timer)
  send()
  await until(() => got.length === seq, 10_000, 'every message arrived')
  const last = new Map()
  let inOrder = 0
  for (const m of got) {
    if ((last.get(m.id) ?? -1) < m.seq) inOrder++
    last.set(m.id, m.seq)
  }
  t.ok(got.some((m) => m.node === kit.nodes[3].name), 'some were handled by the new runner')
  t.is(inOrder, got.length, 'every entity saw the sender in order')
  t.is(kit.maxConcurrent(), 1)
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

test('MemoryMessageStorage: what is not done is listed by shard in order, with its id; the oldest is forgotten past maxMessages', async (t) => {
  const { MemoryMessageStorage } = await import('actor-cluster-bare')
  const s = new MemoryMessageStorage({ maxMessages: 4 })
  const msg = (entityId, shard) => ({ type: 't', entityId, shard, sender: null, manifest: '', body: new Uint8Array([shard]) })
  const ids = ['a', 'b', 'c', 'd'].map((e, i) => s.save(msg(e, i % 2)))
  t.alike(ids, [1, 2, 3, 4])
  s.markDone(2)
  s.markDone(2)
  s.markDone(99)
  t.is(s.size, 3)
  t.alike(s.undelivered('t', 0).map((m) => [m.id, m.entityId]), [[1, 'a'], [3, 'c']])
  t.alike(s.undelivered('t', 1).map((m) => [m.id, m.entityId]), [[4, 'd']])
  s.markDone(1)
  t.is(s.save(msg('e', 1)), 5)
  t.is(s.save(msg('f', 1)), 6)
  t.is(s.evicted, 0)
  t.is(s.save(msg('g', 1)), 7)
  t.is(s.evicted, 1, 'the oldest not done (c) was forgotten')
  t.alike(s.undelivered('t', 0), [])
  t.alike(s.undelivered('t', 1).map((m) => m.id), [4, 5, 6, 7])
  s.markDone(7)
  for (let i = 0; i < 5000; i++) s.markDone(s.save(msg('x', 0)))
  t.is(s.size, 3)
  t.alike(s.undelivered('t', 1).map((m) => m.id), [4, 5, 6], 'after many saved and done in order')
  t.is(s.undelivered('t', 1)[0].body[0], 1)
})
