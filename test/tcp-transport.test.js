// TcpTransport behaviour only TCP has: crossing dials, lanes and chunking, backpressure against a
// peer that stops reading, frame limits, shutdown flushing, and hostile bytes.
import test from 'brittle'
import b4a from 'b4a'
import { getTcpBackend, encodeFrame, FrameDecoder, NodeAddress, WIRE_VERSION } from 'actor-cluster-bare'
import { tcpNode, until, envelope, crashable } from './helpers/transport.js'
import { HOST, pattern, equalBytes } from './helpers/net.js'

const backend = getTcpBackend()

test('tcp: two nodes dialling each other at once end with one connection and lose nothing', async (t) => {
  const a = await tcpNode(t, 'a')
  const b = await tcpNode(t, 'b')
  const N = 500
  for (let i = 0; i < N; i++) {
    a.send(b.self, envelope(i))
    b.send(a.self, envelope(i))
  }
  await until(() => a.received.length === N && b.received.length === N, 10000, 'all envelopes')
  t.alike(a.received.map((r) => r.msg.manifest), Array.from({ length: N }, (_, i) => 'n:' + i), 'a got all, in order')
  t.alike(b.received.map((r) => r.msg.manifest), Array.from({ length: N }, (_, i) => 'n:' + i), 'b got all, in order')
  t.ok(a.received.every((r) => r.from.equals(b.self)), 'from is b')
  await until(() => a.stats().inboundConnections === 0 && b.stats().inboundConnections === 0, 3000, 'losers closed')
  t.is(a.peers().length, 1)
  t.is(b.peers().length, 1)
})

test('tcp: many peers exchange with each other', async (t) => {
  const nodes = []
  for (let i = 0; i < 8; i++) nodes.push(await tcpNode(t, 'n' + i))
  const PER = 50
  for (const from of nodes) for (const to of nodes) if (from !== to) for (let i = 0; i < PER; i++) from.send(to.self, envelope(i))
  const expected = (nodes.length - 1) * PER
  await until(() => nodes.every((n) => n.received.length === expected), 15000, 'mesh delivery')
  for (const n of nodes) {
    const bySender = new Map()
    for (const r of n.received) {
      const list = bySender.get(r.from.key) ?? []
      list.push(Number(r.msg.manifest.slice(2)))
      bySender.set(r.from.key, list)
    }
    t.is(bySender.size, nodes.length - 1, `${n.name} heard from every other node`)
    t.ok([...bySender.values()].every((l) => l.every((v, i) => v === i)), `${n.name}: per-sender order kept`)
  }
})

test('tcp: a large envelope is chunked and a heartbeat overtakes it', async (t) => {
  const a = await tcpNode(t, 'a')
  const b = await tcpNode(t, 'b')
  a.send(b.self, envelope(0)) // connect first
  await until(() => b.received.length === 1)
  const big = pattern(12 * 1024 * 1024, 9)
  a.send(b.self, envelope(1, big))
  a.send(b.self, { kind: 'heartbeat', seq: 1, sentAt: 1 })
  a.send(b.self, envelope(2))
  await until(() => b.received.length === 4, 20000, 'big envelope')
  const kinds = b.received.slice(1).map((r) => r.msg.kind + (r.msg.kind === 'envelope' ? ':' + r.msg.manifest : ''))
  t.alike(kinds, ['heartbeat', 'envelope:n:1', 'envelope:n:2'], 'heartbeat first, envelopes in order')
  t.ok(equalBytes(b.received[2].msg.body, big), '12 MiB body intact')
  await until(() => a.stats(b.self).rttMs !== null, 3000, 'heartbeat ack')
  t.ok(a.stats(b.self).rttMs >= 0, 'round trip measured from the ack')
})

test('tcp: on a quiet link a lone send is written at once; a stream goes out in one write a tick', async (t) => {
  let writes = 0
  const counting = Object.create(backend)
  counting.connect = async (opts) => {
    const socket = await backend.connect(opts)
    const write = socket.write.bind(socket)
    socket.write = (data) => {
      writes++
      return write(data)
    }
    return socket
  }
  const a = await tcpNode(t, 'a', { backend: counting })
  const b = await tcpNode(t, 'b')
  a.send(b.self, envelope(0)) // connect first
  await until(() => b.received.length === 1)
  writes = 0
  a.send(b.self, envelope(1))
  t.is(writes, 1, 'written before send returned')
  await Promise.resolve()
  writes = 0
  const N = 1000
  for (let i = 2; i < N + 2; i++) a.send(b.self, envelope(i))
  t.is(writes, 1, 'the first of the burst at once')
  await new Promise((resolve) => setTimeout(resolve, 0))
  t.is(writes, 2, 'the other 999 together')
  // A stream: while ticks carry several frames, each tick is one write.
  writes = 0
  for (let i = N + 2; i < N + 12; i++) a.send(b.self, envelope(i))
  t.is(writes, 0, 'a stream waits for the end of the tick')
  await new Promise((resolve) => setTimeout(resolve, 0))
  t.is(writes, 1, 'and goes out in one write')
  // A tick with one frame ends the stream; the next lone send is written at once again.
  a.send(b.self, envelope(N + 12))
  await new Promise((resolve) => setTimeout(resolve, 0))
  writes = 0
  a.send(b.self, envelope(N + 13))
  t.is(writes, 1, 'quiet again: written at once')
  const total = N + 14
  await until(() => b.received.length === total, 5000, 'everything')
  t.alike(b.received.map((r) => r.msg.manifest), Array.from({ length: total }, (_, i) => 'n:' + i), 'in order')
})

test('tcp: a send that can never fit the frame limit throws, the connection carries on', async (t) => {
  const a = await tcpNode(t, 'a', { maxFrameBytes: 64 * 1024 })
  const b = await tcpNode(t, 'b', { maxFrameBytes: 64 * 1024 })
  a.send(b.self, envelope(0))
  await until(() => b.received.length === 1)
  t.exception(() => a.send(b.self, envelope(1, new Uint8Array(64 * 1024))), /FRAME_TOO_LARGE/)
  a.send(b.self, envelope(2))
  await until(() => b.received.length === 2)
  t.is(b.received[1].msg.manifest, 'n:2')
  t.is(a.peers().length, 1, 'still connected')
})

test('tcp: a peer that stops reading bounds the queue; the excess is counted as dropped', async (t) => {
  const MAX_QUEUED = 2 * 1024 * 1024
  const a = await tcpNode(t, 'a', { maxQueuedBytes: MAX_QUEUED, shutdownTimeoutMs: 200 })
  // A hand-made peer: answers the handshake, then never reads again.
  const self = NodeAddress.parse('actor-cluster://test@127.0.0.1:1')
  let raw = null
  const server = await backend.listen({
    host: HOST,
    port: 0,
    onconnection(socket) {
      raw = socket
      const dec = new FrameDecoder()
      socket.ondata = (chunk) => {
        for (const m of dec.push(chunk)) {
          if (m.kind === 'hello') {
            socket.write(encodeFrame(ackFor(m, 'test', self.withPort(server.port))))
            socket.pause()
          }
        }
      }
    }
  })
  t.teardown(() => {
    raw?.destroy()
    return server.close()
  })
  const slow = self.withPort(server.port)
  const drops = []
  a.on('drop', (d) => drops.push(d))
  const body = new Uint8Array(16 * 1024)
  const SENDS = 4000 // 64 MiB offered
  for (let i = 0; i < SENDS; i++) {
    a.send(slow, envelope(i, body))
    if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await until(() => drops.length > 0, 5000, 'drops')
  const s = a.stats(slow)
  t.ok(s.queuedBytes <= MAX_QUEUED, `queued ${s.queuedBytes} bytes, bound ${MAX_QUEUED}`)
  t.ok(s.drops['queue-full'] > 0, `${s.drops['queue-full']} envelopes counted as queue-full`)
  t.is(drops.length, s.drops['queue-full'], 'one drop event per dropped envelope')
  t.ok(drops.every((d) => d.reason === 'queue-full' && d.peer.equals(slow)), 'drop events name the reason and peer')
  // Control frames still have room beyond the envelope bound.
  a.send(slow, { kind: 'heartbeat', seq: 1, sentAt: 0 })
  t.is(a.stats(slow).drops['queue-full'], s.drops['queue-full'], 'heartbeat not refused')
})

test('tcp: shutdown flushes what is queued and says goodbye', async (t) => {
  const a = await tcpNode(t, 'a')
  const b = await tcpNode(t, 'b')
  const disconnected = new Promise((resolve) => b.on('peer-disconnected', resolve))
  const N = 2000
  for (let i = 0; i < N; i++) a.send(b.self, envelope(i, new Uint8Array(512)))
  await a.shutdown()
  await until(() => b.received.length === N, 5000, 'everything flushed')
  t.is(b.received.length, N, 'every queued envelope arrived')
  t.ok((await disconnected).equals(a.self), 'b saw a leave')
  t.is(a.peers().length, 0)
})

test('tcp: disconnect closes one peer; a later send reconnects', async (t) => {
  const a = await tcpNode(t, 'a')
  const b = await tcpNode(t, 'b')
  const c = await tcpNode(t, 'c')
  a.send(b.self, envelope(0))
  a.send(c.self, envelope(0))
  await until(() => b.received.length === 1 && c.received.length === 1)
  a.disconnect(b.self)
  await until(() => b.peers().length === 0, 3000, 'b sees the close')
  t.alike(a.peers().map(String), [String(c.self)], 'only c left')
  a.send(b.self, envelope(1))
  await until(() => b.received.length === 2, 5000, 'reconnect')
  t.is(a.peers().length, 2)
})

test('tcp: a killed peer is redialled with backoff; its restart is reported', async (t) => {
  const a = await tcpNode(t, 'a', { backoffBaseMs: 20, backoffMaxMs: 200 })
  const doomed = crashable(backend)
  let b = await tcpNode(t, 'b', { backend: doomed })
  const port = b.self.port
  const first = b.incarnation
  a.send(b.self, envelope(0))
  await until(() => b.received.length === 1)
  // Kill b without goodbye: its sockets and listener vanish at once.
  const gone = new Promise((resolve) => a.once('peer-disconnected', resolve))
  await doomed.crash()
  await gone
  t.ok(a.stats(b.self).connected === false, 'a knows b is gone')
  const restarted = new Promise((resolve) => a.on('peer-restarted', (peer, inc, prev) => resolve({ peer, inc, prev })))
  a.send(b.self, envelope(1)) // queued while b is down, redialled with backoff
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.is(a.stats(b.self).queuedFrames, 1, 'still queued while b is down')
  b = await tcpNode(t, 'b2', { port })
  const r = await restarted
  t.ok(r.peer.equals(b.self), 'restart of b reported')
  t.is(r.prev, first)
  t.is(r.inc, b.incarnation)
  await until(() => b.received.length === 1, 5000, 'queued envelope delivered after restart')
  t.is(b.received[0].msg.manifest, 'n:1')
  t.ok(a.stats(b.self).reconnects >= 1, 'reconnect counted')
})

test('tcp: handshake timeout, garbage and a wrong cluster each close only that connection', async (t) => {
  const a = await tcpNode(t, 'a', { handshakeTimeoutMs: 300 })
  const b = await tcpNode(t, 'b')
  const errors = []
  a.on('connection-error', (err) => errors.push(err.code))

  const silent = await backend.connect({ host: HOST, port: a.self.port })
  const garbage = await backend.connect({ host: HOST, port: a.self.port })
  const stranger = await backend.connect({ host: HOST, port: a.self.port })
  const closes = [silent, garbage, stranger].map((s) => {
    s.onend = () => s.end()
    return new Promise((resolve) => (s.onclose = resolve))
  })
  garbage.write(b4a.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
  stranger.write(encodeFrame(helloFrom('actor-cluster://other@127.0.0.1:9', 'other')))

  a.send(b.self, envelope(0))
  await Promise.all(closes)
  await until(() => b.received.length === 1)
  await until(() => errors.length >= 3, 3000, 'three refusals')
  t.ok(errors.includes('HANDSHAKE_TIMEOUT'), `silent connection timed out (${errors.join(',')})`)
  t.ok(errors.includes('BAD_FRAME') || errors.includes('FRAME_TOO_LARGE'), `garbage refused (${errors.join(',')})`)
  t.ok(errors.includes('CLUSTER_MISMATCH'), 'other cluster refused')
  t.is(a.peers().length, 1, 'the legitimate peer is untouched')
})

function helloFrom(address, cluster) {
  return {
    kind: 'hello',
    minVersion: WIRE_VERSION,
    maxVersion: WIRE_VERSION,
    cluster,
    from: address,
    incarnation: 7,
    maxFrameBytes: 1024 * 1024,
    features: 0,
    nonce: new Uint8Array(32),
    proof: null
  }
}

function ackFor(hello, cluster, address) {
  return {
    kind: 'hello-ack',
    version: WIRE_VERSION,
    cluster,
    from: address.toString(),
    incarnation: 99,
    maxFrameBytes: 16 * 1024 * 1024,
    features: 0,
    nonce: new Uint8Array(32),
    proof: null
  }
}

test('tcp: two nodes over TLS exchange envelopes; a plaintext node cannot join them', async (t) => {
  const { makeCerts } = await import('./helpers/certs.js')
  const certs = await makeCerts()
  const tls = { cert: certs.cert, key: certs.key, ca: certs.ca }
  const a = await tcpNode(t, 'a', { tls })
  const b = await tcpNode(t, 'b', { tls, handshakeTimeoutMs: 500 })
  const plain = await tcpNode(t, 'plain', { backoffBaseMs: 10, maxDialAttempts: 2 })
  for (let i = 0; i < 100; i++) a.send(b.self, envelope(i))
  await until(() => b.received.length === 100, 5000, 'TLS delivery')
  t.is(b.received[99].msg.manifest, 'n:99')
  plain.send(b.self, envelope(0))
  await until(() => (plain.stats(b.self)?.drops.unreachable ?? 0) === 1, 5000, 'plaintext refused')
  t.is(b.received.length, 100, 'nothing from the plaintext node')
  t.is(b.peers().length, 1, 'only the TLS peer is connected')
})

test('tcp: envelopes queued before the handshake that exceed the peer\'s smaller limit are dropped as too-large', async (t) => {
  const a = await tcpNode(t, 'a')
  const b = await tcpNode(t, 'b', { maxFrameBytes: 64 * 1024 })
  const drops = []
  a.on('drop', (d) => drops.push(d))
  a.send(b.self, envelope(0))
  a.send(b.self, envelope(1, new Uint8Array(200 * 1024))) // fits a's limit, not b's
  a.send(b.self, envelope(2))
  await until(() => b.received.length === 2, 5000)
  t.alike(b.received.map((r) => r.msg.manifest), ['n:0', 'n:2'], 'the others arrive, in order')
  t.is(drops.length, 1)
  t.is(drops[0].reason, 'too-large')
  t.is(a.peers().length, 1, 'the connection was never put at risk')
})

test('tcp: at debug level the transport logs [tcp-transport] lines for connects, closes and drops', async (t) => {
  const { createLogger } = await import('actor-cluster-bare')
  const lines = []
  const log = createLogger('debug', (r) => lines.push(`${r.level} ${r.msg}`))
  const quiet = []
  const a = await tcpNode(t, 'a', { log, maxQueuedBytes: 1024 })
  const b = await tcpNode(t, 'b', { log: createLogger('info', (r) => quiet.push(r.msg)) })
  a.send(b.self, envelope(0))
  a.send(b.self, envelope(1, new Uint8Array(4096))) // over the queue bound: dropped
  await until(() => b.received.length === 1)
  a.disconnect(b.self)
  t.ok(lines.every((l) => l.includes('[tcp-transport]')), 'every line is scoped')
  t.ok(lines.some((l) => /^debug .*connected to .*wire version 3/.test(l)), 'connect logged')
  t.ok(lines.some((l) => /dropped envelope .*queue-full/.test(l)), 'drop logged with its reason')
  t.ok(lines.some((l) => /disconnecting/.test(l)), 'disconnect logged')
  t.is(quiet.length, 0, 'nothing below info on an info logger')
})

test('tcp: drops and traffic counted on a peer stay in the totals after it is disconnected', async (t) => {
  const a = await tcpNode(t, 'a', { backoffBaseMs: 5000, backoffMaxMs: 5000, maxDialAttempts: 100 })
  const b = await tcpNode(t, 'b')
  const nobody = NodeAddress.parse('actor-cluster://test@127.0.0.1:1')
  const drops = []
  a.on('drop', (d) => drops.push(d.reason))
  for (let i = 0; i < 10; i++) a.send(nobody, envelope(i))
  a.disconnect(nobody)
  t.is(drops.filter((r) => r === 'disconnected').length, 10, 'ten drop events')
  t.is(a.stats().drops.disconnected, 10, 'and ten in the totals, with the peer gone')
  for (let i = 0; i < 5; i++) a.send(b.self, envelope(i))
  await until(() => b.received.length === 5, 5000, 'delivery')
  // Written is not yet delivered: what is unacknowledged at a disconnect is counted as dropped.
  await until(() => a.stats(b.self).delivery.pending === 0, 5000, 'acknowledged')
  const before = a.stats()
  a.disconnect(b.self)
  const after = a.stats()
  t.ok(after.framesOut >= before.framesOut && after.framesOut >= 5, `frames out kept (${after.framesOut})`)
  t.ok(after.bytesOut >= before.bytesOut, 'bytes out kept')
  t.is(after.drops.disconnected, 10, 'drops kept')
})

// A backend whose accepted sockets the test can cut after a given number of bytes have come in.
function cutAfter(backend, limit) {
  const state = { cuts: 0, armed: true }
  return {
    state,
    name: backend.name,
    verifiesClientCertificates: backend.verifiesClientCertificates,
    connect: (opts) => backend.connect(opts),
    listen: (opts) =>
      backend.listen({
        ...opts,
        onconnection: (socket) => {
          let inner = null
          let seen = 0
          Object.defineProperty(socket, 'ondata', {
            configurable: true,
            get: () => (chunk) => {
              seen += chunk.byteLength
              if (state.armed && seen > limit) {
                state.armed = false
                state.cuts++
                socket.destroy(null)
                return
              }
              inner?.(chunk)
            },
            set: (fn) => (inner = fn)
          })
          opts.onconnection(socket)
        }
      })
  }
}

test('tcp: a connection cut in the middle of a large envelope: it starts again on the next one and all behind it arrives', { timeout: 60000 }, async (t) => {
  const cutting = cutAfter(getTcpBackend(), 4 * 1024 * 1024)
  const b = await tcpNode(t, 'b', { backend: cutting })
  const a = await tcpNode(t, 'a', { backoffBaseMs: 20, backoffMaxMs: 100 })
  const big = pattern(16 * 1024 * 1024 - 1024)
  const drops = []
  a.on('drop', (d) => drops.push(d.reason))
  a.send(b.self, envelope('big', big))
  for (let i = 0; i < 200; i++) a.send(b.self, envelope(i))
  await until(() => b.received.length === 201 || drops.length > 0, 30000, 'all of it, or a counted drop')
  t.is(cutting.state.cuts, 1, 'the first connection was cut mid-envelope')
  t.alike(drops, [], 'nothing dropped')
  t.is(b.received.length, 201, 'the big one and 200 small ones')
  t.ok(equalBytes(b.received[0].msg.body, big), 'the big one whole')
  t.ok(b.received.slice(1).every((r, i) => r.msg.manifest === 'n:' + i), 'then the small ones, in order')
  t.is(a.stats(b.self).reconnects, 1, 'over a second connection')
})

test('tcp: a receiver that disconnects a sender mid-stream still takes no resent message twice', async (t) => {
  const a = await tcpNode(t, 'a', { backoffBaseMs: 10, backoffMaxMs: 50 })
  const b = await tcpNode(t, 'b')
  let cut = false
  const N = 3000
  b.setHandler((from, msg) => {
    if (msg.kind !== 'envelope') return
    b.received.push({ from, msg })
    // Gone before its ack for the last few hundred went out: the sender resends them.
    if (!cut && b.received.length === 700) {
      cut = true
      b.disconnect(from)
    }
  })
  for (let i = 0; i < N; i++) a.send(b.self, envelope(i))
  await until(() => cut && a.stats(b.self).delivery.pending === 0, 10000, 'everything acknowledged')
  const got = b.received.map((r) => r.msg.manifest)
  t.is(new Set(got).size, got.length, 'nothing twice')
  t.is(got.length, N, 'everything once')
  t.alike(a.stats(b.self).delivery.dropped, {}, 'nothing dropped')
  t.ok(b.stats().delivery.duplicates > 0 || a.stats(b.self).reconnects > 0, 'the connection came back')
})
