// SwarmTransport: the shared transport behaviour over hyperswarm on a local testnet (each node on
// a topic of its own, so, as over TCP, a connection comes only when there is something to send),
// then what is the swarm's own: identity by key, the allow-list, large writes, replacement.
import test from 'brittle'
import { NodeAddress } from 'actor-cluster-bare'
import { behaviour } from './transport-behaviour.js'
import { testnet, local, randomTopic, swarmSkip, unsupportedRuntime, offLoopback } from './helpers/swarm.js'
import { until, envelope } from './helpers/transport.js'

const MAX_FRAME_BYTES = 4 * 1024 * 1024

if (swarmSkip !== null && !unsupportedRuntime) {
  test('swarm transport', (t) => t.comment(swarmSkip))
} else if (swarmSkip !== null) {
  test('swarm transport: the swarm entry refuses at once, with a code that says why', async (t) => {
    t.comment(swarmSkip)
    await t.exception(import('actor-cluster-bare/swarm'), /SWARM_UNSUPPORTED: hyperswarm cannot run on/)
    const { ClusterError } = await import('actor-cluster-bare')
    try {
      await import('actor-cluster-bare/swarm')
    } catch (err) {
      t.ok(err instanceof ClusterError && err.code === 'SWARM_UNSUPPORTED', 'a ClusterError with its code')
    }
  })
} else {
  const { SwarmTransport } = await import('actor-cluster-bare/swarm')

  behaviour('swarm', (t) => {
    let net = null
    return {
      maxFrameBytes: MAX_FRAME_BYTES,
      unreachable: () => NodeAddress.ofKey('behaviour', randomTopic()),
      async create() {
        if (net === null) net = await testnet(t)
        const node = new SwarmTransport(
          local(net, {
            system: 'behaviour',
            topic: randomTopic(),
            heartbeatIntervalMs: 0,
            backoffBaseMs: 20,
            maxDialAttempts: 3,
            maxFrameBytes: MAX_FRAME_BYTES
          })
        )
        await node.start()
        return node
      }
    }
  })

  async function pair(t, opts = {}) {
    const net = await testnet(t)
    const topic = randomTopic()
    const make = async () => {
      const node = new SwarmTransport(local(net, { system: 'test', topic, heartbeatIntervalMs: 0, ...opts }))
      t.teardown(() => node.shutdown())
      await node.start()
      node.received = []
      node.setHandler((from, msg) => node.received.push({ from, msg }))
      return node
    }
    return Promise.all([make(), make()])
  }

  test('swarm: a 20 MiB envelope crosses, cut into writes the stream takes', async (t) => {
    const [a, b] = await pair(t, { maxFrameBytes: 32 * 1024 * 1024 })
    const body = new Uint8Array(20 * 1024 * 1024).map((_, i) => (i * 31) & 0xff)
    a.send(b.self, envelope(0, body))
    a.send(b.self, envelope(1))
    await until(() => b.received.length === 2, 30000, 'both')
    const got = b.received[0].msg.body
    t.is(got.byteLength, body.byteLength, '20 MiB')
    let same = true
    for (let i = 0; i < got.byteLength; i += 4093) if (got[i] !== ((i * 31) & 0xff)) same = false
    t.ok(same && got[got.byteLength - 1] === body[body.byteLength - 1], 'intact')
    t.is(b.received[1].msg.manifest, 'n:1', 'and the next one after it')
    t.is(a.stats().reconnects, 0, 'on one connection')
  })

  test('swarm: a 1 MiB burst of small envelopes drains in order, past backpressure', async (t) => {
    const [a, b] = await pair(t)
    a.send(b.self, envelope(-1))
    await until(() => b.received.length === 1, 5000, 'linked')
    b.received.length = 0
    const N = 16384
    const body = new Uint8Array(48)
    for (let i = 0; i < N; i++) a.send(b.self, envelope(i, body))
    t.ok(a.stats(b.self).queuedBytes > 0, 'queued past what one write takes')
    await until(() => b.received.length === N, 20000, 'the burst')
    t.ok(b.received.every((r, i) => r.msg.manifest === 'n:' + i), `all ${N}, in order`)
    t.is(Object.keys(a.stats().drops).length, 0, 'nothing dropped')
  })

  test('swarm: two nodes that find each other on a topic while both send end with one link and lose nothing', async (t) => {
    const [a, b] = await pair(t)
    const N = 300
    // Both send from the start: their discoveries cross, hyperswarm may open and replace connections.
    for (let i = 0; i < N; i++) {
      a.send(b.self, envelope(i))
      b.send(a.self, envelope(i))
      if (i % 30 === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await until(() => a.received.length === N && b.received.length === N, 10000, 'every message')
    t.ok(a.received.every((r, i) => r.msg.manifest === 'n:' + i), 'a got all, in order')
    t.ok(b.received.every((r, i) => r.msg.manifest === 'n:' + i), 'b got all, in order')
    await until(() => a.peers().length === 1 && b.peers().length === 1, 5000, 'one link each')
    t.comment(`connections replaced: a ${a.stats().reconnects}, b ${b.stats().reconnects}`)
  })

  test('swarm: nothing left loopback', (t) => {
    t.alike(offLoopback, [], 'every destination was 127.0.0.0/8')
  })
}
