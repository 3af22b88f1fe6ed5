// Identity on a swarm: a node is its key. A hello in another key's name is refused, a key not on
// the allow-list never gets a connection, and a removed member's run stays out.
import test from 'brittle'
import b4a from 'b4a'
import { Cluster, NodeAddress, encodeFrame, WIRE_VERSION, MIN_WIRE_VERSION } from 'actor-cluster-bare'
import { testnet, local, randomTopic, swarmSkip, offLoopback, swarmNode } from './helpers/swarm.js'
import { until } from './helpers/transport.js'

function upCount(c) {
  return c.members().filter((m) => m.status === 'up').length
}

if (swarmSkip !== null) {
  test('swarm identity', (t) => t.comment(swarmSkip))
} else {
  const { SwarmTransport } = await import('actor-cluster-bare/swarm')
  const { default: Hyperswarm } = await import('hyperswarm')
  const { default: HyperDHT } = await import('hyperdht')

  // A bare hyperswarm node on the testnet, speaking whatever the test writes.
  function rawSwarm(t, net) {
    const swarm = new Hyperswarm({ dht: new HyperDHT({ bootstrap: net.bootstrap, host: '127.0.0.1' }) })
    t.teardown(() => swarm.destroy())
    return swarm
  }

  function hello(from) {
    return encodeFrame({
      kind: 'hello',
      minVersion: MIN_WIRE_VERSION,
      maxVersion: WIRE_VERSION,
      cluster: 'test',
      from,
      incarnation: 1,
      maxFrameBytes: 1 << 20,
      features: 0,
      nonce: b4a.alloc(32, 7),
      proof: null
    })
  }

  test('swarm identity: a hello naming a key the connection does not hold is refused (KEY_MISMATCH)', async (t) => {
    const net = await testnet(t)
    const target = await swarmNode(t, net)
    const liar = rawSwarm(t, net)
    const victim = NodeAddress.ofKey('test', randomTopic())
    const closedConn = new Promise((resolve) => {
      liar.on('connection', (conn) => {
        conn.on('error', () => {})
        conn.on('close', resolve)
        conn.write(hello(victim.toString()))
      })
    })
    liar.joinPeer(target.publicKey)
    await closedConn
    t.pass('the connection was closed')
    await until(() => (target.stats().rejected.KEY_MISMATCH ?? 0) === 1, 3000, 'the refusal counted')
    t.is(target.peers().length, 0, 'no link in anyone\'s name')
    t.is(target.stats(victim), null, 'the claimed node is not a peer')
    // The honest hello of the same connection's key is taken.
    const honest = rawSwarm(t, net)
    const answered = new Promise((resolve) => {
      honest.on('connection', (conn) => {
        conn.on('error', () => {})
        conn.once('data', resolve)
        conn.on('end', () => conn.end())
        conn.write(hello(NodeAddress.ofKey('test', honest.keyPair.publicKey).toString()))
      })
    })
    honest.joinPeer(target.publicKey)
    await answered
    await until(() => target.peers().length === 1, 3000, 'the honest one linked')
    t.ok(target.peers()[0].publicKey && b4a.equals(target.peers()[0].publicKey, honest.keyPair.publicKey), 'named by its own key')
  })

  test('swarm identity: a stranger on the topic is kept out by the allow-list, and counted', async (t) => {
    const net = await testnet(t)
    const topic = randomTopic()
    const keys = [HyperDHT.keyPair(), HyperDHT.keyPair()]
    const allow = keys.map((k) => k.publicKey)
    const a = await swarmNode(t, net, { topic, keyPair: keys[0], allow })
    const b = await swarmNode(t, net, { topic, keyPair: keys[1], allow })
    const stranger = await swarmNode(t, net, { topic })
    a.send(b.self, { kind: 'subsystem', channel: 'c', body: b4a.alloc(1) })
    await until(() => b.received.length === 1, 5000, 'members talk')
    stranger.send(a.self, { kind: 'subsystem', channel: 'c', body: b4a.alloc(1) })
    await until(() => (a.stats().rejected.AUTH_FAILED ?? 0) >= 1 || (b.stats().rejected.AUTH_FAILED ?? 0) >= 1, 5000, 'the stranger refused')
    await new Promise((resolve) => setTimeout(resolve, 500))
    t.is(a.received.length, 0, 'nothing from the stranger reached a')
    t.is(stranger.peers().length, 0, 'the stranger has no link')
    t.alike(a.peers().map(String), [b.self.toString()], 'a is linked to b alone')
    t.comment(`refusals counted: a ${a.stats().rejected.AUTH_FAILED ?? 0}, b ${b.stats().rejected.AUTH_FAILED ?? 0}`)
  })

  test("swarm identity: a removed member's run stays out: its hellos are refused while the others have it removed", async (t) => {
    const net = await testnet(t)
    const topic = randomTopic()
    const opts = { gossipIntervalMs: 100, heartbeatIntervalMs: 100, downAfterMs: 600, failureDetector: { acceptableHeartbeatPauseMs: 800 } }
    const nodes = []
    for (let i = 0; i < 3; i++) {
      const c = await Cluster.join({ name: 'app' }, { transport: new SwarmTransport(local(net, { topic })), ...opts })
      t.teardown(() => c.shutdown())
      nodes.push(c)
    }
    await until(() => nodes.every((c) => upCount(c) === 3), 5000, 'three up')
    const [a, b, c] = nodes
    // c's transport stops hearing anything (heartbeats included, so it answers none) while its
    // swarm runs on and keeps coming back.
    const onmessage = c.transport._onmessage
    c.transport._onmessage = () => {}
    await until(() => a.member(c.self)?.status === 'removed' && b.member(c.self)?.status === 'removed', 15000, 'c removed')
    await until(() => (a.transport.stats().rejected.STALE_INCARNATION ?? 0) + (b.transport.stats().rejected.STALE_INCARNATION ?? 0) >= 1, 6000, 'a hello of the removed run refused')
    // The view that says removed is published a moment after the record changes: the cut follows it.
    await until(() => !a.transport.peers().some((p) => p.equals(c.self)), 3000, 'a to cut c')
    await until(() => !b.transport.peers().some((p) => p.equals(c.self)), 3000, 'b to cut c')
    t.pass('a and b have no link to c')
    c.transport._onmessage = onmessage
    await new Promise((resolve) => setTimeout(resolve, 1500))
    t.is(a.member(c.self)?.status ?? 'removed', 'removed', 'c did not come back')
    t.ok(!a.transport.peers().some((p) => p.equals(c.self)), 'and has no link')
  })

  test('swarm: a connection whose other side never answers the hello ends in a handshake timeout and a retry, then a counted drop', async (t) => {
    const net = await testnet(t)
    const a = await swarmNode(t, net, { handshakeTimeoutMs: 300, maxDialAttempts: 3 })
    const mute = rawSwarm(t, net)
    let seen = 0
    mute.on('connection', (conn) => {
      seen++
      conn.on('error', () => {})
    })
    await mute.listen()
    const failed = []
    a.on('dial-failed', (peer, cause) => failed.push(cause.code))
    const target = NodeAddress.ofKey('test', mute.keyPair.publicKey)
    a.send(target, { kind: 'subsystem', channel: 'c', body: b4a.alloc(1) })
    await until(() => (a.stats().rejected.HANDSHAKE_TIMEOUT ?? 0) >= 2, 8000, 'two timeouts')
    t.ok(seen >= 2, `the other side saw ${seen} connections: the first timed out and another was asked for`)
    t.ok(failed.length >= 2 && failed.every((c) => c === 'HANDSHAKE_TIMEOUT'), 'each told as a failed dial')
    t.is(a.peers().length, 0, 'never taken as a link')
    await until(() => (a.stats().drops.unreachable ?? 0) === 1, 10000, 'the message given up')
    t.is(a.stats(target).handshakeFailures >= 2, true, 'handshake failures counted on the peer')
  })

  test('swarm: nothing left loopback (identity)', (t) => {
    t.alike(offLoopback, [], 'every destination was 127.0.0.0/8')
  })
}
