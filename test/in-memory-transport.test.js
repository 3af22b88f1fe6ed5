// The in-memory bus and its injected faults.
import test from 'brittle'
import { InMemoryTransport } from 'actor-cluster-bare'
import { until, envelope } from './helpers/transport.js'

async function node(t, bus, n, opts = {}) {
  const tr = new InMemoryTransport({ self: `actor-cluster://mem@10.0.0.${n}:2552`, bus, ...opts })
  await tr.start()
  tr.received = []
  tr.setHandler((from, msg) => tr.received.push({ from, msg }))
  t.teardown(() => tr.shutdown())
  return tr
}

function manifests(tr) {
  return tr.received.map((r) => r.msg.manifest)
}

async function lossyRun(seed) {
  const bus = InMemoryTransport.newBus({ seed, faults: { drop: 0.3, duplicate: 0.1, reorder: 0.1 } })
  const a = new InMemoryTransport({ self: 'actor-cluster://mem@10.0.0.1:2552', bus })
  const b = new InMemoryTransport({ self: 'actor-cluster://mem@10.0.0.2:2552', bus })
  await a.start()
  await b.start()
  const got = []
  b.setHandler((from, msg) => got.push(msg.manifest))
  for (let i = 0; i < 300; i++) a.send(b.self, envelope(i))
  await new Promise((resolve) => setTimeout(resolve, 50))
  await a.shutdown()
  await b.shutdown()
  bus.close()
  return got
}

test('in-memory: the same seed gives the same faults, another seed others', async (t) => {
  const one = await lossyRun(42)
  const two = await lossyRun(42)
  const other = await lossyRun(43)
  t.alike(one, two, 'seed 42 twice: identical deliveries')
  t.not(JSON.stringify(one), JSON.stringify(other), 'seed 43 differs')
  t.ok(one.length > 100 && one.length < 300, `${one.length} of 300 delivered with 30% loss and some duplicates`)
})

test('in-memory: drop probability 1 loses everything, each loss counted', async (t) => {
  const bus = InMemoryTransport.newBus({ faults: { drop: 1 } })
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  const drops = []
  a.on('drop', (d) => drops.push(d.reason))
  for (let i = 0; i < 20; i++) a.send(b.self, envelope(i))
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.is(b.received.length, 0)
  t.is(a.stats(b.self).drops['injected-loss'], 20)
  t.is(drops.length, 20)
})

test('in-memory: delay holds messages back and keeps their order', async (t) => {
  const bus = InMemoryTransport.newBus({ faults: { delayMs: 60, jitterMs: 30 } })
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  const started = Date.now()
  for (let i = 0; i < 50; i++) a.send(b.self, envelope(i))
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.is(b.received.length, 0, 'nothing yet after 20 ms')
  await until(() => b.received.length === 50, 3000)
  t.ok(Date.now() - started >= 60, 'arrived after the delay')
  t.alike(manifests(b), Array.from({ length: 50 }, (_, i) => 'n:' + i), 'jitter did not reorder')
})

test('in-memory: reordering and duplication happen when asked for', async (t) => {
  const bus = InMemoryTransport.newBus({ seed: 5, faults: { reorder: 0.2, duplicate: 0.2 } })
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  for (let i = 0; i < 200; i++) a.send(b.self, envelope(i))
  await until(() => b.received.length >= 200, 3000)
  await new Promise((resolve) => setTimeout(resolve, 30))
  const seq = manifests(b).map((m) => Number(m.slice(2)))
  t.ok(seq.some((v, i) => i > 0 && v < seq[i - 1]), 'some messages overtaken')
  t.ok(seq.length > 200, `${seq.length - 200} duplicates`)
  t.is(new Set(seq).size, 200, 'every message arrived at least once')
})

test('in-memory: one-way and two-way partitions, and heal', async (t) => {
  const bus = InMemoryTransport.newBus()
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  const c = await node(t, bus, 3)
  bus.partition([a.self], [b.self], { oneWay: true })
  a.send(b.self, envelope(1))
  b.send(a.self, envelope(2))
  a.send(c.self, envelope(3))
  await until(() => a.received.length === 1 && c.received.length === 1)
  t.is(b.received.length, 0, 'a to b cut')
  t.is(a.stats(b.self).drops.partitioned, 1, 'counted as partitioned')
  bus.heal()
  bus.partition([a.self, b.self], [c.self])
  a.send(b.self, envelope(4))
  c.send(a.self, envelope(5))
  b.send(c.self, envelope(6))
  await until(() => b.received.length === 1)
  t.is(b.received[0].msg.manifest, 'n:4', 'healed a to b works')
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.is(c.received.length, 1, 'nothing crosses the two-way partition')
  t.is(a.received.length, 1)
  bus.heal([a.self, b.self], [c.self])
  c.send(a.self, envelope(7))
  await until(() => a.received.length === 2)
  t.is(a.received[1].msg.manifest, 'n:7', 'healed')
})

test('in-memory: serialize round-trips through the codec and catches what cannot cross', async (t) => {
  const bus = InMemoryTransport.newBus({ serialize: true })
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  const body = new Uint8Array([1, 2, 3])
  a.send(b.self, envelope(0, body))
  body[0] = 99 // changing the sender's copy after send must not reach the receiver
  await until(() => b.received.length === 1)
  t.is(b.received[0].msg.body[0], 1, 'receiver has its own bytes')
  t.exception(() => a.send(b.self, { kind: 'envelope', to: 'x', from: null, manifest: 'm', body: { not: 'bytes' }, correlationId: null }), /BAD_OPTIONS/)
})

test('in-memory: buses are independent; a restart is reported', async (t) => {
  const one = InMemoryTransport.newBus()
  const two = InMemoryTransport.newBus()
  const a = await node(t, one, 1)
  const b = await node(t, two, 2)
  a.send(b.self, envelope(0))
  t.is(a.stats().drops.unreachable, 1, 'b lives on another bus')
  const b1 = await node(t, one, 2)
  a.send(b1.self, envelope(1))
  await until(() => b1.received.length === 1)
  const restarted = new Promise((resolve) => a.once('peer-restarted', (peer, inc, prev) => resolve({ peer, inc, prev })))
  await b1.shutdown()
  const b2 = await node(t, one, 2)
  a.send(b2.self, envelope(2))
  const r = await restarted
  t.ok(r.peer.equals(b2.self))
  t.is(r.prev, b1.incarnation)
  t.is(r.inc, b2.incarnation)
  t.is(b.received.length, 0)
})
