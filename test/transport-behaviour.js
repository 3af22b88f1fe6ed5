// What holds for every Transport, run against each implementation with its own factory:
//
//   behaviour('tcp', (t) => ({
//     async create(selfAddress) { ...; await transport.start(); return transport },
//     cleanup() {},            // optional, after the test's transports are shut down
//     maxFrameBytes: 4 << 20,  // optional, the receivers' frame limit (default 16 MiB)
//     self: '...',             // optional, the address handed to create (default SELF below)
//     unreachable: () => addr  // optional, an address nobody holds (default NOBODY below)
//   }))
//
// Only the Transport interface, stats() and events are used. Addresses may ask for port 0, so
// a test reads `transport.self` after create.
import test from 'brittle'
import { NodeAddress, DEFAULT_MAX_FRAME_BYTES, guardRecipients, systemRecipientRule } from 'actor-cluster-bare'
import { until, envelope } from './helpers/transport.js'

const SELF = 'actor-cluster://behaviour@127.0.0.1:0'
// Nobody listens on port 1.
const NOBODY = 'actor-cluster://behaviour@127.0.0.1:1'

export function behaviour(name, factory) {
  async function setup(t, n = 2) {
    const f = factory(t)
    const out = []
    // Teardowns run in the order they were added: transports first, then the factory's cleanup.
    t.teardown(async () => {
      await Promise.all(out.map((node) => node.shutdown()))
      if (f.cleanup) await f.cleanup()
    })
    for (let i = 0; i < n; i++) {
      const node = await f.create(f.self ?? SELF)
      node.received = []
      node.setHandler((from, msg) => node.received.push({ from, msg }))
      out.push(node)
    }
    return { nodes: out, maxFrameBytes: f.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, unreachable: f.unreachable ? f.unreachable() : NodeAddress.parse(NOBODY) }
  }

  test(`${name}: a message arrives with the right from, after send returns`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    t.not(a.self.key, b.self.key, 'two addresses')
    a.send(b.self, envelope(1, new Uint8Array([1, 2, 3])))
    t.is(b.received.length, 0, 'not delivered inside send')
    await until(() => b.received.length === 1)
    const { from, msg } = b.received[0]
    t.ok(from instanceof NodeAddress && from.equals(a.self), 'from is the sender')
    t.is(msg.kind, 'envelope')
    t.is(msg.manifest, 'n:1')
    t.alike(Array.from(msg.body), [1, 2, 3])
  })

  test(`${name}: many messages arrive in order per sender`, async (t) => {
    const [a, b, c] = (await setup(t, 3)).nodes
    const N = 2000
    for (let i = 0; i < N; i++) {
      a.send(c.self, envelope(i))
      b.send(c.self, envelope(i))
    }
    await until(() => c.received.length === 2 * N, 10000, 'delivery')
    for (const [label, sender] of [
      ['a', a],
      ['b', b]
    ]) {
      const seq = c.received
        .filter((r) => r.from.equals(sender.self))
        .map((r) => Number(r.msg.manifest.slice(2)))
      t.ok(seq.length === N && seq.every((v, i) => v === i), `from ${label}: all ${N}, in order`)
    }
  })

  test(`${name}: two-way exchange, replies addressed to from`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    b.setHandler((from, msg) => {
      b.received.push({ from, msg })
      b.send(from, envelope(Number(msg.manifest.slice(2)) + 1000))
    })
    for (let i = 0; i < 50; i++) a.send(b.self, envelope(i))
    await until(() => a.received.length === 50, 5000, 'replies')
    t.is(b.received.length, 50)
    t.ok(
      a.received.every((r, i) => r.msg.manifest === 'n:' + (i + 1000) && r.from.equals(b.self)),
      'every reply, in order, from b'
    )
  })

  test(`${name}: peer-connected on both sides; peers() lists each other`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    t.is(a.peers().length, 0, 'nobody before the first send')
    const seenByA = new Promise((resolve) => a.once('peer-connected', resolve))
    const seenByB = new Promise((resolve) => b.once('peer-connected', resolve))
    a.send(b.self, envelope(0))
    t.ok((await seenByA).equals(b.self), 'a saw b')
    t.ok((await seenByB).equals(a.self), 'b saw a')
    await until(() => a.peers().length === 1 && b.peers().length === 1)
    t.ok(a.peers()[0].equals(b.self), 'a lists b')
    t.ok(b.peers()[0].equals(a.self), 'b lists a')
    t.is(a.stats().peers, 1)
  })

  test(`${name}: disconnect tells both sides; a later send reconnects`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    a.send(b.self, envelope(0))
    await until(() => b.received.length === 1 && a.peers().length === 1)
    const goneA = new Promise((resolve) => a.once('peer-disconnected', resolve))
    const goneB = new Promise((resolve) => b.once('peer-disconnected', resolve))
    a.disconnect(b.self)
    t.ok((await goneA).equals(b.self), 'a saw b go')
    t.ok((await goneB).equals(a.self), 'b saw a go')
    t.is(a.peers().length, 0)
    await until(() => b.peers().length === 0, 5000, 'b to drop the link')
    a.send(b.self, envelope(1))
    await until(() => b.received.length === 2, 5000, 'after reconnect')
    t.is(b.received[1].msg.manifest, 'n:1')
    await until(() => a.peers().length === 1 && b.peers().length === 1, 5000, 'linked again')
    t.pass('linked again on both sides')
  })

  test(`${name}: a send to an address nobody holds ends in a counted drop`, async (t) => {
    const { nodes, unreachable: nobody } = await setup(t, 1)
    const [a] = nodes
    const drops = []
    a.on('drop', (d) => drops.push(d))
    a.send(nobody, envelope(0))
    await until(() => (a.stats().drops.unreachable ?? 0) >= 1, 15000, 'the drop')
    t.is(a.stats().drops.unreachable, 1, 'counted once')
    t.is(drops.length, 1, 'one drop event')
    t.is(drops[0].reason, 'unreachable')
    t.is(drops[0].kind, 'envelope')
    t.ok(drops[0].peer.equals(nobody))
    t.is(a.peers().length, 0)
  })

  test(`${name}: the delivery counts close: sent = delivered + dropped, per peer and in total`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    const nobody = NodeAddress.parse(NOBODY)
    const N = 500
    for (let i = 0; i < N; i++) a.send(b.self, envelope(i))
    a.send(b.self, { kind: 'gossip', digest: [], deltas: [], reply: false, summary: null })
    a.heartbeat(b.self)
    for (let i = 0; i < 3; i++) a.send(nobody, envelope(i))
    await until(() => b.received.filter((r) => r.msg.kind === 'envelope').length === N, 10000, 'delivery')
    await until(() => a.stats(b.self).delivery.pending === 0, 5000, 'acknowledged')
    const d = a.stats(b.self).delivery
    t.is(d.sent, N + 1, 'envelopes and gossip counted, heartbeats not')
    t.is(d.delivered, N + 1)
    t.alike(d.dropped, {})
    await until(() => a.stats().delivery.pending === 0, 10000, 'the unreachable ones settled')
    const total = a.stats().delivery
    const dropped = Object.values(total.dropped).reduce((x, y) => x + y, 0)
    t.is(total.sent, N + 4)
    t.is(dropped, 3, 'the three to nobody counted')
    t.is(total.sent, total.delivered + dropped, 'sent = delivered + dropped')
  })

  test(`${name}: an oversize send throws FRAME_TOO_LARGE and the link carries on`, async (t) => {
    const { nodes, maxFrameBytes } = await setup(t)
    const [a, b] = nodes
    a.send(b.self, envelope(0))
    await until(() => b.received.length === 1)
    const huge = envelope(1, new Uint8Array(maxFrameBytes))
    t.exception(() => a.send(b.self, huge), /FRAME_TOO_LARGE/)
    a.send(b.self, envelope(2))
    await until(() => b.received.length === 2)
    t.is(b.received[1].msg.manifest, 'n:2', 'the next message arrives')
    t.is(a.peers().length, 1, 'still linked')
  })

  test(`${name}: envelopes with 0-byte and 1 MiB bodies`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) & 0xff)
    a.send(b.self, envelope(0, new Uint8Array(0)))
    a.send(b.self, envelope(1, big))
    a.send(b.self, envelope(2, new Uint8Array([5])))
    await until(() => b.received.length === 3, 10000)
    t.is(b.received[0].msg.body.byteLength, 0, 'empty body')
    const got = b.received[1].msg.body
    t.is(got.byteLength, big.byteLength, '1 MiB')
    t.ok(got.every((x, i) => x === ((i * 7) & 0xff)), 'intact')
    t.alike(Array.from(b.received[2].msg.body), [5], 'and the one after')
  })

  test(`${name}: subsystem messages`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    a.send(b.self, { kind: 'subsystem', channel: 'pubsub', body: new Uint8Array([9, 8]) })
    a.send(b.self, { kind: 'subsystem', channel: 'ddata', body: new Uint8Array(0) })
    await until(() => b.received.length === 2)
    const [first, second] = b.received.map((r) => r.msg)
    t.alike([first.kind, first.channel, Array.from(first.body)], ['subsystem', 'pubsub', [9, 8]])
    t.alike([second.channel, second.body.byteLength], ['ddata', 0])
    t.ok(b.received[0].from.equals(a.self))
  })

  test(`${name}: a 1 MiB channel message arrives whole, and the link carries on`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 13) & 0xff)
    a.send(b.self, { kind: 'subsystem', channel: 'bulk', body: big })
    a.send(b.self, envelope(1))
    await until(() => b.received.length === 2, 10000, 'both')
    const [first, second] = b.received.map((r) => r.msg)
    t.is(first.kind, 'subsystem')
    t.is(first.channel, 'bulk')
    t.ok(first.body.byteLength === big.byteLength && first.body.every((x, i) => x === ((i * 13) & 0xff)), 'intact')
    t.is(second.manifest, 'n:1', 'the next message after it')
    t.is(a.stats().reconnects, 0, 'on the one connection')
  })

  test(`${name}: an envelope in the documented shape, without correlationId, is sent and arrives`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    a.send(b.self, { kind: 'envelope', to: '/user/x', from: '/user/y', manifest: 'm', body: new Uint8Array([4, 2]) })
    a.send(b.self, { kind: 'envelope', to: '/user/x', from: null, manifest: 'm', body: new Uint8Array([1]) })
    await until(() => b.received.length === 2)
    const [first, second] = b.received.map((r) => r.msg)
    t.alike([first.to, first.from, first.manifest, Array.from(first.body)], ['/user/x', '/user/y', 'm', [4, 2]])
    t.ok(first.correlationId == null, 'no correlation id')
    t.alike(Array.from(second.body), [1], 'and the next one')
  })

  test(`${name}: the transport's own kinds and unencodable messages are refused`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    const own = [
      { kind: 'chunk', id: 1, offset: 0, totalBytes: 1, data: new Uint8Array(1) },
      { kind: 'hello', minVersion: 1, maxVersion: 1, cluster: 'c', from: 'x', incarnation: 1 },
      { kind: 'hello-ack', version: 1, cluster: 'c', from: 'x', incarnation: 1 }
    ]
    for (const msg of own) t.exception(() => a.send(b.self, msg), /BAD_OPTIONS/, msg.kind)
    const bad = { ...envelope(0), body: 'not bytes' }
    t.exception(() => a.send(b.self, bad), /BAD_OPTIONS/, 'a body that is not bytes')
    a.send(b.self, envelope(1))
    await until(() => b.received.length === 1)
    t.is(b.received[0].msg.manifest, 'n:1', 'the link is fine')
  })

  // The recipient rule is the actor system's, enforced above the transport; what it refuses is
  // counted by the transport all the same.
  test(`${name}: envelopes to system paths the node does not serve are refused and counted`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    const take = (from, msg) => b.received.push({ from, msg })
    b.setHandler(guardRecipients(b, take, systemRecipientRule(['/system/receptionist'])))
    const drops = []
    b.on('drop', (d) => drops.push(d))
    a.send(b.self, envelope(0, new Uint8Array(0), `${b.self}/system/guardian`))
    a.send(b.self, envelope(1, new Uint8Array(0), `${b.self}/system/receptionist`))
    a.send(b.self, envelope(2, new Uint8Array(0), `${b.self}/user/ok`))
    await until(() => b.received.length === 2)
    t.alike(b.received.map((r) => r.msg.manifest), ['n:1', 'n:2'])
    t.is(drops.length, 1)
    t.is(drops[0].reason, 'forbidden-recipient')
    t.is(b.stats(a.self).drops['forbidden-recipient'], 1)
  })

  test(`${name}: shutdown delivers what was sent, disconnects, then drops`, async (t) => {
    const [a, b] = (await setup(t)).nodes
    a.send(b.self, envelope(0))
    await until(() => b.received.length === 1 && b.peers().length === 1)
    const gone = new Promise((resolve) => b.once('peer-disconnected', resolve))
    a.send(b.self, envelope(1))
    await a.shutdown()
    t.ok((await gone).equals(a.self), 'b saw a go')
    await until(() => b.received.length === 2, 5000, 'the last message')
    t.is(b.received[1].msg.manifest, 'n:1', 'sent before shutdown, delivered')
    t.is(a.peers().length, 0)
    await until(() => b.peers().length === 0, 5000, 'b to drop the link')
    a.send(b.self, envelope(2))
    t.is(a.stats().drops.shutdown, 1, 'a send after shutdown is a counted drop')
    await a.shutdown()
    t.pass('a second shutdown resolves')
  })
}
