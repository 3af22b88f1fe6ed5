// InMemoryTransport: the shared transport behaviour, then the bus and its injected faults.
import test from 'brittle'
import { InMemoryTransport, NodeAddress, messageSize } from 'actor-cluster-bare'
import { behaviour } from './transport-behaviour.js'
import { until, envelope } from './helpers/transport.js'

const MAX_FRAME_BYTES = 4 * 1024 * 1024

behaviour('in-memory', () => {
  const bus = InMemoryTransport.newBus({ seed: 7 })
  return {
    maxFrameBytes: MAX_FRAME_BYTES,
    async create(self) {
      const node = new InMemoryTransport({ self, bus, maxFrameBytes: MAX_FRAME_BYTES })
      await node.start()
      return node
    },
    cleanup() {
      bus.close()
    }
  }
})

async function node(t, bus, n, opts = {}) {
  const tr = new InMemoryTransport({ self: `actor-cluster://mem@10.0.0.${n}:2552`, bus, ...opts })
  await tr.start()
  tr.received = []
  tr.setHandler((from, msg) => tr.received.push({ from, msg }))
  t.teardown(() => tr.shutdown())
  return tr
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function numbers(tr) {
  return tr.received.map((r) => Number(r.msg.manifest.slice(2)))
}

function inOrder(seq) {
  return seq.every((v, i) => i === 0 || v > seq[i - 1])
}

// Sends 300 envelopes through every kind of fault and returns what arrived, in arrival order.
async function faultyRun(seed) {
  const faults = { drop: 0.2, duplicate: 0.1, reorder: 0.1, delayMs: 1, jitterMs: 3 }
  const bus = InMemoryTransport.newBus({ seed, faults })
  const a = new InMemoryTransport({ self: 'actor-cluster://mem@10.0.0.1:2552', bus })
  const b = new InMemoryTransport({ self: 'actor-cluster://mem@10.0.0.2:2552', bus })
  await a.start()
  await b.start()
  const got = []
  b.setHandler((from, msg) => got.push(Number(msg.manifest.slice(2))))
  for (let i = 0; i < 300; i++) a.send(b.self, envelope(i))
  await until(() => bus.inFlight(a.self).frames === 0, 3000, 'the run')
  const lost = a.stats(b.self).drops['injected-loss']
  await a.shutdown()
  await b.shutdown()
  bus.close()
  return { got, lost }
}

test('in-memory: the same seed gives the same deliveries, another seed others', async (t) => {
  const one = await faultyRun(42)
  const two = await faultyRun(42)
  const other = await faultyRun(43)
  t.alike(one.got, two.got, 'seed 42 twice: the same sequence')
  t.is(one.lost, two.lost, 'and the same losses')
  t.not(one.got.join(), other.got.join(), 'seed 43: another sequence')
  t.ok(one.lost > 20 && one.lost < 100, `${one.lost} of 300 lost at 20%`)
  t.ok(one.got.length > 300 - one.lost, 'some delivered twice')
  t.absent(inOrder(one.got), 'some overtaken')
})

test('in-memory: drop probability 1 loses everything, each loss counted', async (t) => {
  const bus = InMemoryTransport.newBus({ faults: { drop: 1 } })
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  const drops = []
  a.on('drop', (d) => drops.push(d))
  for (let i = 0; i < 20; i++) a.send(b.self, envelope(i))
  await sleep(20)
  t.is(b.received.length, 0, 'nothing arrived')
  t.is(a.stats(b.self).drops['injected-loss'], 20, 'counted per peer')
  t.is(a.stats().drops['injected-loss'], 20, 'and in total')
  t.is(drops.length, 20, 'one drop event each')
  t.ok(drops.every((d) => d.reason === 'injected-loss' && d.peer.equals(b.self)))
  t.is(a.stats(b.self).framesOut, 0, 'lost messages are not counted as sent')
})

test('in-memory: faults on one link, one direction, override the defaults', async (t) => {
  const bus = InMemoryTransport.newBus({ faults: { drop: 1 } })
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  const c = await node(t, bus, 3)
  bus.setLink(a.self, b.self, {})
  a.send(b.self, envelope(1))
  b.send(a.self, envelope(2))
  a.send(c.self, envelope(3))
  await until(() => b.received.length === 1)
  await sleep(10)
  t.is(a.received.length, 0, 'b to a keeps the default loss')
  t.is(c.received.length, 0, 'a to c keeps the default loss')
  bus.setDefaultFaults({})
  bus.setLink(a.self, b.self, { drop: 1 })
  a.send(b.self, envelope(4))
  b.send(a.self, envelope(5))
  await until(() => a.received.length === 1)
  await sleep(10)
  t.is(b.received.length, 1, 'a to b now loses')
  bus.setLink(a.self, b.self, null)
  a.send(b.self, envelope(6))
  await until(() => b.received.length === 2)
  t.is(b.received[1].msg.manifest, 'n:6', 'back to the defaults')
  t.exception(() => bus.setLink(a.self, b.self, { drop: 2 }), /BAD_OPTIONS/)
  t.exception(() => bus.setDefaultFaults({ delayMs: -1 }), /BAD_OPTIONS/)
})

test('in-memory: delay holds messages back; jitter keeps their order', async (t) => {
  const bus = InMemoryTransport.newBus({ faults: { delayMs: 60, jitterMs: 30 } })
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  const started = Date.now()
  for (let i = 0; i < 50; i++) a.send(b.self, envelope(i))
  t.is(a.stats(b.self).queuedFrames, 50, 'on their way')
  const bytes = Array.from({ length: 50 }, (_, i) => messageSize(envelope(i)))
  t.is(a.stats(b.self).queuedBytes, bytes.reduce((x, y) => x + y), 'in bytes')
  await sleep(20)
  t.is(b.received.length, 0, 'nothing after 20 ms')
  await until(() => b.received.length === 50, 3000)
  t.ok(Date.now() - started >= 60, 'arrived after the delay')
  t.alike(numbers(b), Array.from({ length: 50 }, (_, i) => i), 'in order')
  t.is(a.stats().queuedBytes, 0, 'nothing left on the way')
})

test('in-memory: reordering reorders, and nothing else', async (t) => {
  const bus = InMemoryTransport.newBus({ seed: 5, faults: { reorder: 0.2 } })
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  for (let i = 0; i < 200; i++) a.send(b.self, envelope(i))
  await until(() => b.received.length === 200, 3000)
  const seq = numbers(b)
  t.absent(inOrder(seq), 'some messages overtaken')
  t.is(new Set(seq).size, 200, 'each exactly once')
})

test('in-memory: duplication duplicates, and nothing else', async (t) => {
  const bus = InMemoryTransport.newBus({ seed: 9, faults: { duplicate: 0.2 } })
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  for (let i = 0; i < 200; i++) a.send(b.self, envelope(i))
  await until(() => bus.inFlight(a.self).frames === 0 && b.received.length >= 200, 3000)
  const seq = numbers(b)
  t.ok(seq.length > 210 && seq.length < 300, `${seq.length - 200} duplicates`)
  t.is(new Set(seq).size, 200, 'every message at least once')
  t.ok(seq.every((v, i) => i === 0 || v >= seq[i - 1]), 'a duplicate follows its original')
})

test('in-memory: one-way and two-way partitions, and heal', async (t) => {
  const bus = InMemoryTransport.newBus()
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  const c = await node(t, bus, 3)
  const dropsAtA = []
  a.on('drop', (d) => dropsAtA.push(d.reason))

  bus.partition([a.self], [b.self], { oneWay: true })
  t.ok(bus.isPartitioned(a.self, b.self) && !bus.isPartitioned(b.self, a.self))
  a.send(b.self, envelope(1))
  b.send(a.self, envelope(2))
  a.send(c.self, envelope(3))
  await until(() => a.received.length === 1 && c.received.length === 1)
  await sleep(10)
  t.is(b.received.length, 0, 'a to b cut')
  t.is(a.received[0].msg.manifest, 'n:2', 'b to a open')
  t.is(a.stats(b.self).drops.partitioned, 1, 'counted as partitioned')
  t.alike(dropsAtA, ['partitioned'], 'and reported')

  bus.heal()
  bus.partition([a.self, b.self], [c.self])
  a.send(b.self, envelope(4))
  c.send(a.self, envelope(5))
  b.send(c.self, envelope(6))
  await until(() => b.received.length === 1)
  t.is(b.received[0].msg.manifest, 'n:4', 'healed: a to b works')
  await sleep(10)
  t.is(c.received.length, 1, 'nothing from a, b to c')
  t.is(a.received.length, 1, 'nothing from c to a')
  t.is(c.stats(a.self).drops.partitioned, 1)
  t.is(b.stats(c.self).drops.partitioned, 1)

  bus.heal([a.self], [c.self])
  c.send(a.self, envelope(7))
  b.send(c.self, envelope(8))
  await until(() => a.received.length === 2)
  await sleep(10)
  t.is(a.received[1].msg.manifest, 'n:7', 'a and c healed')
  t.is(c.received.length, 1, 'b and c still cut')
  bus.heal([c.self.toString()])
  b.send(c.self, envelope(9))
  await until(() => c.received.length === 2)
  t.is(c.received[1].msg.manifest, 'n:9', 'everything to and from c healed')
})

test('in-memory: serialize round-trips through the codec, refuses what cannot cross', async (t) => {
  const bus = InMemoryTransport.newBus({ serialize: true, seed: 3, faults: { duplicate: 1 } })
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  const body = new Uint8Array([1, 2, 3])
  a.send(b.self, { ...envelope(0, body), note: 'not on the wire' })
  body[0] = 99 // the sender's bytes after send must not reach the receiver
  await until(() => b.received.length === 2)
  const [first, second] = b.received.map((r) => r.msg)
  t.is(first.body[0], 1, 'the receiver has its own bytes')
  t.is(first.note, undefined, 'a field the wire does not carry is gone')
  t.not(first, second, 'a duplicate is a copy of its own')
  first.body[1] = 77
  t.is(second.body[1], 2, 'with bytes of its own')
  let err = null
  try {
    a.send(b.self, { ...envelope(1), body: { not: 'bytes' } })
  } catch (e) {
    err = e
  }
  t.is(err?.name, 'ClusterError', 'a body that is not a Uint8Array is a ClusterError')
  t.is(err?.code, 'BAD_OPTIONS')
  t.is(b.received.length, 2, 'and nothing went out')
})

test('in-memory: serialize on one transport only', async (t) => {
  const bus = InMemoryTransport.newBus()
  const a = await node(t, bus, 1, { serialize: true })
  const b = await node(t, bus, 2)
  const sent = { ...envelope(0), note: 'x' }
  a.send(b.self, sent)
  b.send(a.self, sent)
  await until(() => a.received.length === 1 && b.received.length === 1)
  t.is(b.received[0].msg.note, undefined, 'from a: through the codec')
  t.is(a.received[0].msg, sent, 'from b: by reference')
})

test('in-memory: buses are independent', async (t) => {
  const one = InMemoryTransport.newBus()
  const two = InMemoryTransport.newBus()
  const a = await node(t, one, 1)
  const b = await node(t, two, 2)
  const twin = await node(t, two, 1)
  a.send(b.self, envelope(0))
  twin.send(b.self, envelope(1))
  await until(() => b.received.length === 1)
  t.is(a.stats().drops.unreachable, 1, 'b lives on another bus')
  t.ok(b.received[0].from.equals(a.self), 'the same address on the other bus is another node')
  t.is(b.received[0].msg.manifest, 'n:1')
  t.alike(one.members().map((m) => m.key), [a.self.key], 'one member on the first bus')
})

test('in-memory: a peer back with a new incarnation is reported as restarted', async (t) => {
  const bus = InMemoryTransport.newBus()
  const a = await node(t, bus, 1)
  const b1 = await node(t, bus, 2)
  a.send(b1.self, envelope(1))
  await until(() => b1.received.length === 1)
  const gone = new Promise((resolve) => a.once('peer-disconnected', resolve))
  await b1.shutdown()
  t.ok((await gone).equals(b1.self), 'a saw b go')
  const b2 = await node(t, bus, 2)
  const restarted = new Promise((resolve) => {
    a.once('peer-restarted', (peer, inc, prev) => resolve({ peer, inc, prev }))
  })
  a.send(b2.self, envelope(2))
  const r = await restarted
  t.ok(r.peer.equals(b2.self))
  t.is(r.prev, b1.incarnation)
  t.is(r.inc, b2.incarnation)
  t.is(a.stats(b2.self).incarnation, b2.incarnation)
  t.is(a.stats(b2.self).reconnects, 1)
  await until(() => b2.received.length === 1)
})

test('in-memory: shutdown clears what is delayed, counted at the sender', async (t) => {
  const bus = InMemoryTransport.newBus({ faults: { delayMs: 10000 } })
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  const c = await node(t, bus, 3)
  a.send(b.self, envelope(1))
  a.send(c.self, envelope(2))
  a.send(c.self, envelope(3))
  t.is(a.stats().queuedBytes, 3 * messageSize(envelope(0)))
  await b.shutdown()
  t.is(a.stats(b.self).drops.disconnected, 1, 'to a node that left: disconnected')
  await a.shutdown()
  t.is(a.stats(c.self).drops.shutdown, 2, 'from a node that left: shutdown')
  t.is(bus.inFlight(a.self).frames, 0, 'nothing on the way, no timer left')
  t.is(c.received.length, 0)
})

test('in-memory: port 0 takes a free port; an address is held once', async (t) => {
  const bus = InMemoryTransport.newBus()
  const x = new InMemoryTransport({ self: 'actor-cluster://mem@10.0.0.1:0', bus })
  const self = NodeAddress.parse('actor-cluster://mem@10.0.0.1:0')
  const y = new InMemoryTransport({ self, bus })
  await x.start()
  await y.start()
  t.teardown(() => Promise.all([x.shutdown(), y.shutdown()]))
  t.ok(x.self.port > 0 && y.self.port > 0 && x.self.port !== y.self.port, 'two ports')
  const dup = new InMemoryTransport({ self: x.self, bus })
  await t.exception(dup.start(), /LISTEN_FAILED/)
  t.exception(() => new InMemoryTransport({ self: x.self }), /BAD_OPTIONS/, 'a bus is needed')
})

test('in-memory: stats count frames and bytes as the wire would', async (t) => {
  const bus = InMemoryTransport.newBus()
  const a = await node(t, bus, 1)
  const b = await node(t, bus, 2)
  const msg = envelope(0, new Uint8Array(100))
  const frame = messageSize(msg) + 4
  for (let i = 0; i < 3; i++) a.send(b.self, msg)
  await until(() => b.received.length === 3)
  const out = a.stats(b.self)
  const into = b.stats(a.self)
  t.alike([out.framesOut, out.bytesOut, out.connected], [3, 3 * frame, true])
  t.alike([into.framesIn, into.bytesIn], [3, 3 * frame])
  t.is(a.stats().bytesOut, 3 * frame)
  t.is(a.stats(NodeAddress.parse('actor-cluster://mem@10.0.0.9:2552')), null, 'an unknown peer')
  a.heartbeat(b.self)
  await until(() => a.stats(b.self).rttMs !== null)
  t.ok(a.stats(b.self).rttMs >= 0, 'round trip from a heartbeat')
})
