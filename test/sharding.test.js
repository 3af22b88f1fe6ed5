// Cluster sharding on the in-memory bus: allocation, routing from any node, handoff when runners
// join and leave, reallocation when one is killed, client-only nodes, roles, passivation, and
// nodes that disagree on the number of shards.
import test from 'brittle'
import { ShardedCluster, ids } from './helpers/sharding.js'

test('1,000 entities over 3 runners: each answers from exactly one node, shards balanced within one', async (t) => {
  const kit = new ShardedCluster(t)
  for (let i = 0; i < 3; i++) await kit.add()
  await kit.awaitUp(3)
  await kit.awaitAllocated()
  const all = ids(1000)
  const answers = await Promise.all(all.map((id, i) => kit.nodes[i % 3].sharding.entity('counter', id).ask('where', { timeoutMs: 10_000 })))
  const byNode = new Map()
  for (const a of answers) byNode.set(a, (byNode.get(a) ?? 0) + 1)
  t.is(byNode.size, 3, 'entities live on all three runners')
  const live = kit.liveEntities()
  t.is(live.size, 1000)
  t.ok([...live.values()].every((s) => s.size === 1), 'every entity is live on exactly one node')
  t.ok(all.every((id, i) => live.get('counter/' + id).has(answers[i])), 'it answered from where it lives')
  const per = Object.values(kit.nodes[0].sharding.stats().shardsPerNode.counter)
  t.ok(Math.max(...per) - Math.min(...per) <= 1, `shards balanced: ${per.join(', ')}`)
})

test('a fourth runner joins: shards move to it, no entity is ever live on two nodes, no message lost', async (t) => {
  const kit = new ShardedCluster(t)
  for (let i = 0; i < 3; i++) await kit.add({ entity: { delayMs: 15 } })
  await kit.awaitUp(3)
  await kit.awaitAllocated()
  const all = ids(100)
  const sender = kit.nodes[0]
  const got = []
  const log = sender.system.spawn('log', (m) => got.push(m))
  let seq = 0
  const sendRound = () => {
    for (const id of all) sender.sharding.entity('counter', id).tell({ add: 1, seq: seq++, log })
  }
  sendRound()
  const moved = []
  kit.nodes[1].sharding.on('shard-moved', (e) => moved.push(e))
  const fourth = await kit.add({ entity: { delayMs: 15 } })
  // Keep sending while the shards move.
  const timer = setInterval(sendRound, 10)
  await kit.awaitUp(4)
  await kit.awaitAllocated()
  clearInterval(timer)
  sendRound()
  const expected = seq
  const deadline = Date.now() + 15_000
  while (got.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  const dropped = kit.nodes.reduce((n, x) => n + x.sharding.stats().dropped, 0)
  t.is(got.length + dropped, expected, `every message arrived (${got.length}) or was counted (${dropped})`)
  t.is(dropped, 0, 'none dropped')
  t.is(new Set(got.map((m) => m.seq)).size, got.length, 'none twice')
  t.is(kit.maxConcurrent(), 1, 'no entity was ever live on two nodes at once')
  const per = kit.nodes[0].sharding.stats().shardsPerNode.counter
  t.ok((per[fourth.name] ?? 0) >= 7, `the fourth runner got its share: ${per[fourth.name]}`)
  t.ok(moved.some((e) => e.to.equals(fourth.cluster.self)), 'shard-moved said so')
  t.ok(kit.nodes.reduce((n, x) => n + x.sharding.stats().handoffs, 0) > 0, 'by handoff')
  const counts = await Promise.all(all.map((id) => kit.nodes[2].sharding.entity('counter', id).ask('count', { timeoutMs: 10_000 })))
  t.ok(counts.every((c) => c >= 1), 'every entity has counted what reached its current incarnation')
})

test('a runner leaves gracefully: its shards hand off and messages sent meanwhile arrive after', async (t) => {
  const kit = new ShardedCluster(t)
  for (let i = 0; i < 3; i++) await kit.add()
  await kit.awaitUp(3)
  await kit.awaitAllocated()
  const leaver = kit.nodes[2]
  const all = ids(200)
  for (const id of all) await kit.nodes[0].sharding.entity('counter', id).ask('where', { timeoutMs: 5000 })
  const onLeaver = all.filter((id) => kit.liveEntities().get('counter/' + id).has(leaver.name))
  t.ok(onLeaver.length > 0, `${onLeaver.length} entities live on the leaving node`)
  const got = []
  const log = kit.nodes[0].system.spawn('log', (m) => got.push(m))
  let seq = 0
  const send = () => {
    for (const id of onLeaver) kit.nodes[0].sharding.entity('counter', id).tell({ add: 1, seq: seq++, log })
  }
  const leaving = leaver.system.terminate()
  const timer = setInterval(send, 10)
  await leaving
  leaver.gone = true
  clearInterval(timer)
  send()
  const expected = seq
  const deadline = Date.now() + 10_000
  while (got.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.is(got.length, expected, 'every message sent during the handoff arrived')
  t.ok(got.some((m) => m.node !== leaver.name && onLeaver.includes(m.id)), 'the new owners handled what came after the handoff')
  t.ok(leaver.sharding.stats().handoffs > 0, 'the leaving node handed shards off')
  t.is(leaver.sharding.stats().dropped, 0, 'and dropped nothing')
  t.is(kit.maxConcurrent(), 1, 'no entity was live on two nodes at once')
  const where = await Promise.all(onLeaver.map((id) => kit.nodes[1].sharding.entity('counter', id).ask('where', { timeoutMs: 5000 })))
  t.ok(where.every((w) => w !== leaver.name), 'they live elsewhere now')
})

test('a runner is killed: its entities answer from other nodes once it is removed; messages sent meanwhile are buffered', async (t) => {
  // The leader downs the killed runner only when the test says: until then it is unreachable and
  // still owns its shards, whichever node notices first and however late the others hear of it.
  let mayDown = false
  const kit = new ShardedCluster(t, { cluster: { downingRule: (_m, unreachableForMs) => mayDown && unreachableForMs >= 100 } })
  for (let i = 0; i < 3; i++) await kit.add()
  await kit.awaitUp(3)
  await kit.awaitAllocated()
  const victim = kit.nodes[2]
  const all = ids(200)
  for (const id of all) await kit.nodes[0].sharding.entity('counter', id).ask('where', { timeoutMs: 5000 })
  const onVictim = all.filter((id) => kit.liveEntities().get('counter/' + id).has(victim.name))
  t.ok(onVictim.length > 0)
  // Once the sender has seen it unreachable, messages for it must wait, not vanish.
  const { until } = await import('./helpers/transport.js')
  const away = new Promise((resolve) => kit.nodes[0].cluster.on('member-unreachable', (m) => m.address.equals(victim.cluster.self) && resolve()))
  await victim.system.terminate({ leave: false })
  victim.gone = true
  await away
  const sender = kit.nodes[0].sharding
  t.ok(onVictim.every((id) => sender.ownerOf('counter', sender.shardOf(id))?.equals(victim.cluster.self)), 'its shards are still its own')
  const got = []
  const log = kit.nodes[0].system.spawn('log', (m) => got.push(m))
  onVictim.forEach((id, seq) => sender.entity('counter', id).tell({ add: 1, seq, log }))
  t.is(sender.stats().buffered, onVictim.length, 'every one buffered while the owner is unreachable')
  mayDown = true
  await kit.awaitAllocated('counter', kit.nodes.slice(0, 2))
  await until(() => got.length === onVictim.length, 10_000, 'the buffered messages')
  t.ok(got.every((m) => m.node !== victim.name), 'handled by the survivors')
  const where = await Promise.all(onVictim.map((id) => kit.nodes[1].sharding.entity('counter', id).ask('where', { timeoutMs: 5000 })))
  t.ok(where.every((w) => w !== victim.name), 'they answer from other nodes')
  t.is(sender.stats().dropped, 0)
})

test('a client-only node reaches every entity and hosts none; a node without the role hosts none', async (t) => {
  const kit = new ShardedCluster(t)
  const a = await kit.add({ roles: ['worker'], entity: { role: 'worker' } })
  const b = await kit.add({ roles: ['worker'], entity: { role: 'worker' } })
  const plain = await kit.add({ roles: [], entity: { role: 'worker' } })
  await kit.awaitUp(3)
  const client = await kit.add({ clientOnly: true })
  await kit.awaitAllocated('counter', [a, b])
  t.exception(() => client.sharding.register('counter', () => () => {}), /BAD_OPTIONS/)
  const all = ids(100)
  const where = await Promise.all(all.map((id) => client.sharding.entity('counter', id).ask('where', { timeoutMs: 10_000 })))
  t.ok(where.every((w) => w === a.name || w === b.name), 'answered from the two workers only')
  t.is(new Set(where).size, 2)
  t.ok(kit.events.every((e) => e.node !== plain.name && e.node !== client.name), 'neither the client nor the node without the role started an entity')
  t.is(client.sharding.stats().entities, 0)
  t.absent(client.cluster.members().some((m) => m.address.equals(client.cluster.self)), 'the client is no member')
})

test('passivation: an idle entity stops, and starts again on the next message with fresh state', async (t) => {
  const kit = new ShardedCluster(t)
  const a = await kit.add({ entity: { idleTimeoutMs: 100 } })
  await kit.awaitUp(1)
  await kit.awaitAllocated()
  const ref = a.sharding.entity('counter', 'sleepy')
  ref.tell({ add: 5 })
  t.is(await ref.ask('count'), 5)
  const { until } = await import('./helpers/transport.js')
  await until(() => kit.events.some((e) => e.event === 'stop'), 2000, 'passivation')
  t.is(a.sharding.stats().passivations, 1)
  t.is(a.sharding.stats().entities, 0)
  t.is(await ref.ask('count'), 0, 'a new incarnation')
  t.alike(kit.events.map((e) => e.event), ['start', 'stop', 'start'])
  // Busy entities are not passivated.
  for (let i = 0; i < 10; i++) {
    ref.tell({ add: 1 })
    await new Promise((r) => setTimeout(r, 30))
  }
  t.is(await ref.ask('count'), 10, 'kept its state while messages kept coming')
})

test('passivation: an entity whose mailbox overflowed still stops when idle', async (t) => {
  const kit = new ShardedCluster(t)
  const a = await kit.add({ host: false })
  kit.register(a, 'counter', { idleTimeoutMs: 100, delayMs: 30, spawn: { mailbox: { capacity: 1 } } })
  await kit.awaitUp(1)
  await kit.awaitAllocated()
  const ref = a.sharding.entity('counter', 'flooded')
  for (let i = 0; i < 6; i++) ref.tell({ add: 1 })
  t.alike(a.sharding.stats().droppedByReason, { 'mailbox-full': 5 }, 'what did not fit was dropped, counted')
  const { until } = await import('./helpers/transport.js')
  await until(() => kit.events.some((e) => e.event === 'stop'), 5000, 'passivation')
  t.is(a.sharding.stats().passivations, 1)
  t.is(a.sharding.stats().entities, 0)
})

test('passivation: a stall of the whole process is no idle time', async (t) => {
  const kit = new ShardedCluster(t)
  const a = await kit.add({ entity: { idleTimeoutMs: 100 } })
  await kit.awaitUp(1)
  await kit.awaitAllocated()
  const ref = a.sharding.entity('counter', 'paused')
  ref.tell({ add: 5 })
  t.is(await ref.ask('count'), 5)
  // The next message is due just after the idle sweep, and the process stalls past the idle
  // time: when it runs again, the sweep comes first, then the message.
  const told = new Promise((resolve) => setTimeout(() => resolve(ref.tell({ add: 1 })), 30))
  const end = Date.now() + 400
  while (Date.now() < end) {}
  await told
  t.is(await ref.ask('count'), 6, 'it kept its state')
  t.alike(kit.events.map((e) => e.event), ['start'], 'it never stopped')
})

test('a node with another number of shards is refused with SHARD_COUNT_MISMATCH and hosts nothing', async (t) => {
  const kit = new ShardedCluster(t)
  const a = await kit.add()
  await kit.add()
  await kit.awaitUp(2)
  await kit.awaitAllocated()
  const odd = await kit.add({ sharding: { numberOfShards: 31 } })
  const refused = new Promise((resolve) => odd.sharding.once('refused', resolve))
  const err = await refused
  t.is(err.code, 'SHARD_COUNT_MISMATCH')
  t.ok(/31/.test(err.message) && /30/.test(err.message), err.message)
  await t.exception(odd.sharding.entity('counter', 'x').ask('where', { timeoutMs: 2000 }), /SHARD_COUNT_MISMATCH/)
  t.is(odd.sharding.stats().droppedByReason.refused, 1)
  await new Promise((r) => setTimeout(r, 300))
  t.absent(Object.keys(a.sharding.stats().shardsPerNode.counter).includes(odd.name), 'the leader gives it no shard')
  t.ok(await a.sharding.entity('counter', 'x').ask('where'), 'the others carry on')
})

test('message storage: what a killed owner had not finished is delivered again by the next owner', async (t) => {
  const { MemoryMessageStorage } = await import('actor-cluster-bare')
  const { until } = await import('./helpers/transport.js')
  // One storage shared by the nodes of this process stands in for a durable one.
  const storage = new MemoryMessageStorage()
  const kit = new ShardedCluster(t, { sharding: { storage } })
  const handled = []
  const nodes = []
  for (let i = 0; i < 2; i++) {
    const n = await kit.add({ host: false })
    n.sharding.register('slow', (id) => async (msg) => {
      // On the first node the entity never finishes (as if its process were about to die).
      if (n === nodes[0]) await new Promise(() => {})
      handled.push({ id, msg, node: n.name })
    })
    nodes.push(n)
  }
  await kit.awaitUp(2)
  await kit.awaitAllocated('slow', nodes)
  const id = ids(50).find((x) => nodes[0].sharding.ownerOf('slow', nodes[0].sharding.shardOf(x))?.equals(nodes[0].cluster.self))
  nodes[1].sharding.entity('slow', id).tell('precious')
  await until(() => storage.size === 1, 2000, 'the message saved')
  t.is(handled.length, 0, 'not handled yet')
  await nodes[0].system.terminate({ leave: false })
  nodes[0].gone = true
  await until(() => handled.length === 1, 10_000, 'the message again')
  t.alike(handled[0], { id, msg: 'precious', node: nodes[1].name })
  t.is(nodes[1].sharding.stats().redelivered, 1)
  await until(() => storage.size === 0, 2000, 'marked done')
})

test('message storage: a message a full entity mailbox refused is dropped once, counted, and never delivered later', async (t) => {
  const { MemoryMessageStorage } = await import('actor-cluster-bare')
  const { until } = await import('./helpers/transport.js')
  const storage = new MemoryMessageStorage()
  const kit = new ShardedCluster(t, { sharding: { storage } })
  const handled = []
  const nodes = []
  let busy = false
  for (let i = 0; i < 2; i++) {
    const n = await kit.add({ host: false })
    const behavior = (id) => async (msg) => {
      // On the first node the entity never finishes its first message, so its mailbox fills.
      if (n === nodes[0]) {
        busy = true
        await new Promise(() => {})
      }
      handled.push(msg)
    }
    // A mailbox of one at the first owner; room for what is delivered again at the next.
    n.sharding.register('slow', behavior, { spawn: { mailbox: { capacity: i === 0 ? 1 : 10 } } })
    nodes.push(n)
  }
  await kit.awaitUp(2)
  await kit.awaitAllocated('slow', nodes)
  const [owner, sender] = nodes
  const id = ids(50).find((x) => owner.sharding.ownerOf('slow', owner.sharding.shardOf(x))?.equals(owner.cluster.self))
  const ref = sender.sharding.entity('slow', id)
  ref.tell('m0')
  await until(() => busy, 5000, 'the entity at work on its first message')
  for (let i = 1; i <= 5; i++) ref.tell('m' + i)
  // m1 waits in the mailbox; m2..m5 and the ask do not fit.
  await t.exception(ref.ask('m6', { timeoutMs: 5000 }), /QUEUE_FULL/, 'the ask fails at once')
  t.alike(owner.sharding.stats().droppedByReason, { 'mailbox-full': 5 }, 'counted by sharding with the reason')
  t.is(owner.sharding.stats().dropped, 5)
  t.is(owner.system.stats().deadLettersByReason['mailbox-full'], undefined, 'and reported there only, not again as dead letters')
  t.is(storage.size, 2, 'only what the entity took in is still to be done')
  // The owner dies: the next owner delivers again what was taken in and not done, nothing else.
  await owner.system.terminate({ leave: false })
  owner.gone = true
  await until(() => storage.size === 0, 10_000, 'all done at the next owner')
  t.alike(handled, ['m0', 'm1'], 'the dropped messages were not delivered later')
  t.is(sender.sharding.stats().redelivered, 2)
  t.is(sender.sharding.stats().dropped, 0)
})

test('buffering is bounded: past bufferSize messages are dropped, counted with a reason, and asks fail at once', async (t) => {
  const kit = new ShardedCluster(t, { sharding: { bufferSize: 10 } })
  // A client with no runner anywhere: every message waits for a shard owner.
  const a = await kit.add({ host: false })
  await kit.awaitUp(1)
  const ref = a.sharding.entity('counter', 'nobody-hosts-me')
  for (let i = 0; i < 15; i++) ref.tell({ add: 1 })
  t.is(a.sharding.stats().buffered, 10)
  t.is(a.sharding.stats().dropped, 5)
  t.alike(a.sharding.stats().droppedByReason, { 'buffer-full': 5 })
  await t.exception(ref.ask('count', { timeoutMs: 5000 }), /QUEUE_FULL/)
  // A runner comes: what waited is delivered.
  const b = await kit.add()
  await kit.awaitUp(2)
  await kit.awaitAllocated('counter', [b])
  const { until } = await import('./helpers/transport.js')
  await until(() => a.sharding.stats().buffered === 0, 5000, 'the buffer emptied')
  t.is(await ref.ask('count'), 10, 'the ten buffered messages arrived')
})

test('garbage on the sharding channel closes that connection; the node and the others carry on', async (t) => {
  const { SHARDING_CHANNEL, SHARDING_TAG, encodeShardingMessage } = await import('actor-cluster-bare')
  const kit = new ShardedCluster(t)
  const a = await kit.add()
  const b = await kit.add()
  await kit.awaitUp(2)
  await kit.awaitAllocated()
  const send = (body) => b.cluster.send(a.cluster.self, { kind: 'subsystem', channel: SHARDING_CHANNEL, body })
  send(new Uint8Array([99, 1, 2]))
  send(new Uint8Array([SHARDING_TAG.ENVELOPE, 200]))
  send(encodeShardingMessage({ tag: SHARDING_TAG.ENVELOPE, type: 'bad type!', entityId: 'x', hops: 0, sender: null, manifest: '', body: new Uint8Array(1) }))
  const { until } = await import('./helpers/transport.js')
  await until(() => a.sharding.stats().badMessages === 3, 5000, 'three bad messages')
  // An allocation from a client-only node is ignored.
  const client = await kit.add({ clientOnly: true })
  const before = a.sharding.stats().allocationVersion
  client.cluster.send(a.cluster.self, {
    kind: 'subsystem',
    channel: SHARDING_CHANNEL,
    body: encodeShardingMessage({ tag: SHARDING_TAG.ALLOCATION, version: 1e9, numberOfShards: 30, nodes: [client.name], types: [{ name: 'counter', owners: new Array(30).fill(1) }] })
  })
  await new Promise((r) => setTimeout(r, 100))
  t.is(a.sharding.stats().allocationVersion, before, 'a client cannot allocate')
  t.ok(await b.sharding.entity('counter', 'still-fine').ask('where', { timeoutMs: 5000 }), 'entities still answer')
})

test('over loopback TCP: runners and a client-only node reach every entity; a joining runner takes its share by handoff', async (t) => {
  const kit = new ShardedCluster(t, { transport: 'tcp' })
  for (let i = 0; i < 2; i++) await kit.add({ entity: { delayMs: 5 } })
  await kit.awaitUp(2)
  const client = await kit.add({ clientOnly: true })
  await kit.awaitAllocated()
  const all = ids(200)
  const where = await Promise.all(all.map((id) => client.sharding.entity('counter', id).ask('where', { timeoutMs: 10_000 })))
  t.is(new Set(where).size, 2, 'answered from both runners')
  const got = []
  const log = client.system.spawn('log', (m) => got.push(m))
  let seq = 0
  const round = () => {
    for (const id of all) client.sharding.entity('counter', id).tell({ add: 1, seq: seq++, log })
  }
  const timer = setInterval(round, 25)
  const third = await kit.add({ entity: { delayMs: 5 } })
  await kit.awaitUp(3)
  await kit.awaitAllocated()
  clearInterval(timer)
  round()
  const { until } = await import('./helpers/transport.js')
  await until(() => got.length === seq, 15_000, `${seq} messages`)
  t.is(new Set(got.map((m) => m.seq)).size, seq, 'every message arrived once')
  t.ok(got.some((m) => m.node === third.name), 'the new runner handles some')
  t.is(kit.maxConcurrent(), 1, 'no entity was ever live on two nodes at once')
  t.is(kit.nodes.reduce((n, x) => n + x.sharding.stats().dropped, 0), 0)
})

test('the leader leaves gracefully: the next leader takes over the allocation and no message is lost', async (t) => {
  const kit = new ShardedCluster(t)
  for (let i = 0; i < 3; i++) await kit.add({ entity: { delayMs: 5 } })
  await kit.awaitUp(3)
  await kit.awaitAllocated()
  const leader = kit.nodes.find((n) => n.cluster.leader.equals(n.cluster.self))
  const sender = kit.nodes.find((n) => n !== leader)
  const all = ids(60)
  const got = []
  const log = sender.system.spawn('log', (m) => got.push(m))
  let seq = 0
  const round = () => {
    for (const id of all) sender.sharding.entity('counter', id).tell({ add: 1, seq: seq++, log })
  }
  round()
  const timer = setInterval(round, 20)
  await leader.system.terminate()
  leader.gone = true
  await kit.awaitAllocated('counter', kit.runners())
  clearInterval(timer)
  round()
  const { until } = await import('./helpers/transport.js')
  await until(() => got.length === seq, 15_000, 'every message')
  t.is(new Set(got.map((m) => m.seq)).size, seq, `all ${seq} arrived once`)
  t.is(kit.maxConcurrent(), 1, 'no entity was ever live on two nodes at once')
  t.ok(leader.sharding.stats().handoffs > 0, 'the old leader handed its shards off')
  const where = await Promise.all(all.map((id) => sender.sharding.entity('counter', id).ask('where', { timeoutMs: 5000 })))
  t.ok(where.every((w) => w !== leader.name), 'its entities live on the others now')
  const next = kit.runners()[0].cluster.leader
  t.ok(kit.runners().some((n) => n.cluster.self.equals(next)), 'a runner leads')
  t.ok(kit.runners().every((n) => n.sharding.stats().allocationVersion === kit.runners()[0].sharding.stats().allocationVersion), 'one allocation version everywhere')
})
