// The connections hyperswarm hands a SwarmTransport, played every run by a stand-in swarm: a
// dial the other side never saw, a second connection for a key while one is open, and a
// replacement that cuts the first connection with frames under way.
import test from 'brittle'
import b4a from 'b4a'
import { swarmSkip } from './helpers/swarm.js'
import { StandInSwarm, connect } from './helpers/stand-in-swarm.js'
import { until, envelope } from './helpers/transport.js'

if (swarmSkip !== null) {
  test('swarm connections', (t) => t.comment(swarmSkip))
} else {
  const { SwarmTransport } = await import('actor-cluster-bare/swarm')
  const { default: HyperDHT } = await import('hyperdht')

  async function node(t, opts = {}) {
    const swarm = new StandInSwarm(HyperDHT.keyPair())
    const transport = new SwarmTransport({ system: 'test', topic: 'stand-in', swarm, heartbeatIntervalMs: 0, ...opts })
    await transport.start()
    transport.received = []
    transport.setHandler((from, msg) => transport.received.push({ from, msg }))
    t.teardown(() => transport.shutdown())
    return { swarm, transport }
  }

  function inOrderOnce(received, n) {
    return received.length === n && received.every((r, i) => r.msg.manifest === 'n:' + i)
  }

  test('swarm connections: a dial the other side never saw is given up once nothing answers the hello, long before the handshake timeout, and another is asked for (waiting twice as long the next time)', async (t) => {
    const a = await node(t, { handshakeTimeoutMs: 30000, unansweredHelloMs: 200 })
    const b = await node(t)
    const dials = []
    a.swarm.onjoinpeer = () => {
      // The first two connections are open here only; the third one reaches b.
      dials.push(connect(a.swarm, b.swarm, { seen: dials.length > 1 }))
    }
    const failed = []
    a.transport.on('dial-failed', (peer, cause) => failed.push(cause))
    a.transport.send(b.transport.self, envelope(0))
    await until(() => b.transport.received.length === 1, 5000, 'the message over the third connection')
    t.ok(dials[0].dialler.destroyed && dials[1].dialler.destroyed, 'the unanswered connections were closed')
    t.alike(failed.map((c) => c.code), ['HANDSHAKE_TIMEOUT', 'HANDSHAKE_TIMEOUT'], 'each told as a failed dial')
    t.ok(/in 200 ms/.test(failed[0].message) && /in 400 ms/.test(failed[1].message), 'the second unanswered dial waited twice as long')
    t.is(a.transport.stats().rejected.HANDSHAKE_TIMEOUT, 2, 'counted')
    t.is(a.transport.stats(b.transport.self).handshakeFailures, 2, 'on the peer')
    t.is(dials.length, 3, 'another connection asked for after each')
    t.alike(a.transport.peers().map(String), [b.transport.self.toString()], 'one link')
  })

  test('swarm connections: a second connection for a key while one is open, then a replacement that cuts the first with frames under way: one link, every message once and in order, counted', async (t) => {
    const a = await node(t)
    const b = await node(t)
    const conns = []
    a.swarm.onjoinpeer = () => conns.push(connect(a.swarm, b.swarm))
    b.swarm.onjoinpeer = () => conns.push(connect(b.swarm, a.swarm))
    const N = 3000
    let cut = null
    const drops = []
    for (const n of [a, b]) n.transport.on('drop', (d) => drops.push(d.reason))
    for (let i = 0; i < N; i++) {
      a.transport.send(b.transport.self, envelope(i, b4a.alloc(64)))
      b.transport.send(a.transport.self, envelope(i, b4a.alloc(64)))
      if (i === 1000) {
        // Crossing dials: b's connection arrives while a's is open.
        await until(() => a.transport.peers().length === 1, 3000, 'the first link')
        conns.push(connect(b.swarm, a.swarm))
      }
      if (i === 2000) {
        // Hyperswarm keeps a newer connection by destroying the one in use, writes and all.
        await until(() => a.transport.stats(b.transport.self).reconnects >= 1 && b.transport.stats(a.transport.self).reconnects >= 1, 3000, 'the second link')
        cut = conns[conns.length - 1]
        cut.dialler.destroy()
        conns.push(connect(a.swarm, b.swarm))
      }
      if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 1))
    }
    await until(() => a.transport.received.length >= N && b.transport.received.length >= N, 10000, 'every message')
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.ok(inOrderOnce(b.transport.received, N), `b got all ${N} once, in order`)
    t.ok(inOrderOnce(a.transport.received, N), `a got all ${N} once, in order`)
    t.alike(drops, [], 'nothing dropped')
    await until(() => a.transport.peers().length === 1 && b.transport.peers().length === 1, 3000, 'one link each')
    const sa = a.transport.stats(b.transport.self)
    const sb = b.transport.stats(a.transport.self)
    t.ok(sa.reconnects >= 2 && sb.reconnects >= 2, `each replacement counted (a ${sa.reconnects}, b ${sb.reconnects})`)
    t.ok(cut.dialler.lost + cut.listener.lost > 0, `the cut lost ${cut.dialler.lost + cut.listener.lost} writes under way, and every message still arrived`)
    await until(() => conns.filter((c) => !c.dialler.destroyed).length === 1, 3000, 'one connection left open')
    t.pass(`one of ${conns.length} connections left open, the others closed`)
  })
}
