// What holds for every Transport, run against each implementation with its own factory:
//   behaviour('tcp', (t) => ({ create: async (name) => startedTransport }))
import test from 'brittle'
import { NodeAddress } from 'actor-cluster-bare'
import { until, envelope } from './helpers/transport.js'

export function behaviour(name, factory) {
  async function pair(t, n = 2) {
    const f = factory(t)
    const nodes = []
    for (let i = 0; i < n; i++) {
      const node = await f.create('n' + i)
      node.received = []
      node.setHandler((from, msg) => node.received.push({ from, msg }))
      t.teardown(() => node.shutdown())
      nodes.push(node)
    }
    return { nodes, f }
  }

  test(`${name}: a message arrives with the right from`, async (t) => {
    const { nodes: [a, b] } = await pair(t)
    a.send(b.self, envelope(1, new Uint8Array([1, 2, 3])))
    await until(() => b.received.length === 1)
    t.ok(b.received[0].from.equals(a.self), 'from is the sender')
    t.alike(Array.from(b.received[0].msg.body), [1, 2, 3])
    t.is(b.received[0].msg.manifest, 'n:1')
  })

  test(`${name}: many messages arrive in order per sender, both ways`, async (t) => {
    const { nodes: [a, b, c] } = await pair(t, 3)
    const N = 2000
    for (let i = 0; i < N; i++) {
      a.send(c.self, envelope(i))
      b.send(c.self, envelope(i))
      c.send(a.self, envelope(i))
    }
    await until(() => c.received.length === 2 * N && a.received.length === N, 10000, 'delivery')
    for (const sender of [a, b]) {
      const seq = c.received.filter((r) => r.from.equals(sender.self)).map((r) => Number(r.msg.manifest.slice(2)))
      t.ok(seq.length === N && seq.every((v, i) => v === i), `from ${sender.self.port || sender.self.host}: all, in order`)
    }
    t.ok(a.received.every((r, i) => r.msg.manifest === 'n:' + i), 'reverse direction in order')
  })

  test(`${name}: peer-connected on both sides; peers() lists each other`, async (t) => {
    const { nodes: [a, b] } = await pair(t)
    const seenByA = new Promise((resolve) => a.once('peer-connected', resolve))
    const seenByB = new Promise((resolve) => b.once('peer-connected', resolve))
    a.send(b.self, envelope(0))
    t.ok((await seenByA).equals(b.self), 'a saw b')
    t.ok((await seenByB).equals(a.self), 'b saw a')
    await until(() => a.peers().length === 1 && b.peers().length === 1)
    t.ok(a.peers()[0].equals(b.self) && b.peers()[0].equals(a.self))
  })

  test(`${name}: disconnect tells both sides; a later send reconnects`, async (t) => {
    const { nodes: [a, b] } = await pair(t)
    a.send(b.self, envelope(0))
    await until(() => b.received.length === 1)
    const gone = new Promise((resolve) => b.once('peer-disconnected', resolve))
    a.disconnect(b.self)
    t.ok((await gone).equals(a.self), 'b saw a go')
    t.is(a.peers().length, 0)
    a.send(b.self, envelope(1))
    await until(() => b.received.length === 2, 5000, 'after reconnect')
    t.is(b.received[1].msg.manifest, 'n:1')
  })

  test(`${name}: a send to an address nobody holds ends in a counted drop`, async (t) => {
    const { nodes: [a] } = await pair(t, 1)
    const nobody = NodeAddress.parse(`actor-cluster://${a.self.system}@127.0.0.1:1`)
    const drops = []
    a.on('drop', (d) => drops.push(d))
    a.send(nobody, envelope(0))
    await until(() => drops.length === 1, 15000, 'drop')
    t.is(drops[0].reason, 'unreachable')
    t.ok(drops[0].peer.equals(nobody))
    t.is(a.stats().drops.unreachable, 1, 'counted in stats')
  })

  test(`${name}: an oversize send throws FRAME_TOO_LARGE and the link carries on`, async (t) => {
    const { nodes: [a, b] } = await pair(t)
    a.send(b.self, envelope(0))
    await until(() => b.received.length === 1)
    t.exception(() => a.send(b.self, envelope(1, new Uint8Array(a.maxFrameBytes))), /FRAME_TOO_LARGE/)
    a.send(b.self, envelope(2))
    await until(() => b.received.length === 2)
    t.is(b.received[1].msg.manifest, 'n:2')
  })

  test(`${name}: bodies of 0 bytes and 1 MiB, and subsystem messages`, async (t) => {
    const { nodes: [a, b] } = await pair(t)
    const big = new Uint8Array(1024 * 1024).map((_, i) => i & 0xff)
    a.send(b.self, envelope(0, new Uint8Array(0)))
    a.send(b.self, envelope(1, big))
    a.send(b.self, { kind: 'subsystem', channel: 'pubsub', body: new Uint8Array([9]) })
    await until(() => b.received.length === 3, 5000)
    t.is(b.received[0].msg.body.byteLength, 0)
    t.ok(b.received[1].msg.body.every((x, i) => x === (i & 0xff)) && b.received[1].msg.body.byteLength === big.byteLength, '1 MiB intact')
    t.alike([b.received[2].msg.kind, b.received[2].msg.channel], ['subsystem', 'pubsub'])
  })

  test(`${name}: the transport's own kinds are refused at send`, async (t) => {
    const { nodes: [a, b] } = await pair(t)
    t.exception(() => a.send(b.self, { kind: 'chunk', id: 1, offset: 0, totalBytes: 1, data: new Uint8Array(1) }), /BAD_OPTIONS/)
  })

  test(`${name}: shutdown disconnects; sends afterwards are counted drops`, async (t) => {
    const { nodes: [a, b] } = await pair(t)
    a.send(b.self, envelope(0))
    await until(() => b.received.length === 1)
    const gone = new Promise((resolve) => b.once('peer-disconnected', resolve))
    await a.shutdown()
    await gone
    t.is(a.peers().length, 0)
    a.send(b.self, envelope(1))
    t.is(a.stats().drops.shutdown, 1)
  })
}
