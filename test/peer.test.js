// A Peer and its Connection over an in-process socket pair: the transport's unit of one remote
// node needs no TCP, only a duplex that fills the socket contract.
import test from 'brittle'
import { NodeAddress, messageSize, monotonicNow } from 'actor-cluster-bare'
import { Connection, ConnectionState, Peer } from 'actor-cluster-bare/testkit'
import { socketPair } from './helpers/socket-pair.js'
import { envelope, until } from './helpers/transport.js'
import { sleep } from './helpers/net.js'

const A = NodeAddress.parse('actor-cluster://peer@127.0.0.1:5001')
const B = NodeAddress.parse('actor-cluster://peer@127.0.0.1:5002')
const PEER_OPTS = { maxQueuedBytes: 1 << 20, maxControlQueuedBytes: 1 << 16, backoffBaseMs: 10, backoffMaxMs: 100 }

function identity(address) {
  return { address, cluster: 'peer', incarnation: address.port, maxFrameBytes: 1 << 20, secret: null }
}

// One side: a Peer for the other node, and the owner its Connection reports to.
function side(self, other, opts = {}) {
  const peer = new Peer(other, { ...PEER_OPTS, ...opts })
  const s = { peer, received: [], drops: [], dials: 0, closes: [] }
  peer.ondial = () => s.dials++
  peer.ondrop = (_p, kind, bytes, reason, count) => {
    for (let i = 0; i < count; i++) s.drops.push({ kind, reason, bytes })
  }
  s.owner = {
    _onhello: () => null,
    _delivered: () => ({ incarnation: peer.ledger.from, delivered: peer.ledger.highest }),
    _onopen: (conn) => {
      peer.attach(conn)
      peer.flush()
    },
    _onmessage: (conn, msg) => {
      if (!peer.received(conn, msg)) return
      if (msg.kind === 'heartbeat') put(peer, { kind: 'heartbeat-ack', seq: msg.seq, sentAt: msg.sentAt })
      s.received.push(msg)
    },
    _ondrain: () => peer.flush(),
    _onclose: (conn, cause) => s.closes.push({ open: peer.detach(conn), cause })
  }
  return s
}

function connect(t, a, b, pairOpts) {
  const [sa, sb] = socketPair(pairOpts)
  const ca = new Connection(a.owner, sa, identity(A), { outbound: true, expected: B, handshakeTimeoutMs: 2000 })
  const cb = new Connection(b.owner, sb, identity(B), { outbound: false, handshakeTimeoutMs: 2000 })
  t.teardown(() => {
    ca.destroy(null)
    cb.destroy(null)
  })
  return { ca, cb, sa, sb }
}

function put(peer, msg) {
  peer.send(msg, messageSize(msg))
}

function manifests(s) {
  return s.received.filter((m) => m.kind === 'envelope').map((m) => m.manifest)
}

test('peer: what is queued before the connection opens goes out once it does, in order', async (t) => {
  const a = side(A, B)
  const b = side(B, A)
  for (let i = 0; i < 5; i++) put(a.peer, envelope(i))
  t.is(a.dials, 5, 'each send without a connection asks for one')
  t.is(a.peer.snapshot().queuedFrames, 5)
  const { ca } = connect(t, a, b)
  t.is((await ca.handshake), null, 'handshake over the pair')
  await until(() => b.received.length === 5, 2000, 'delivery')
  t.alike(manifests(b), ['n:0', 'n:1', 'n:2', 'n:3', 'n:4'])
  const s = a.peer.snapshot()
  t.ok(s.connected)
  t.is(s.framesOut, 5)
  t.is(s.queuedFrames, 0)
  t.is(s.incarnation, B.port, "the peer's incarnation from its hello-ack")
  t.ok(b.peer.snapshot().bytesIn > 0, 'bytes in counted on the other side')
})

test('peer: a lone send is written at once; a burst goes out in one more write', async (t) => {
  const a = side(A, B)
  const b = side(B, A)
  const { ca, sa } = connect(t, a, b)
  await ca.handshake
  put(a.peer, envelope(0))
  await until(() => b.received.length === 1)
  await sleep(0)
  const before = sa.writes
  put(a.peer, envelope(1))
  t.is(sa.writes - before, 1, 'written before send returned')
  await sleep(0)
  const burst = sa.writes
  for (let i = 2; i < 102; i++) put(a.peer, envelope(i))
  t.is(sa.writes - burst, 1, 'the first of the burst at once')
  await sleep(0)
  t.is(sa.writes - burst, 2, 'the other 99 together')
  await until(() => b.received.length === 102)
  t.alike(manifests(b), Array.from({ length: 102 }, (_, i) => 'n:' + i), 'in order')
})

test('peer: a reader that stops makes the writer wait for drain; nothing is lost', async (t) => {
  const a = side(A, B)
  const b = side(B, A)
  const { ca, sb } = connect(t, a, b, { highWaterMark: 64 * 1024, chunkBytes: 16 * 1024 })
  await ca.handshake
  sb.pause()
  const body = new Uint8Array(1000)
  const N = 400
  for (let i = 0; i < N; i++) put(a.peer, envelope(i, body))
  await sleep(20)
  t.absent(ca.writable, 'the socket asked the writer to wait')
  t.ok(a.peer.snapshot().queuedFrames > 0, 'the rest waits in the queue')
  sb.resume()
  await until(() => b.received.length === N, 5000, 'everything after resume')
  t.alike(manifests(b), Array.from({ length: N }, (_, i) => 'n:' + i), 'in order')
  t.is(a.peer.snapshot().queuedFrames, 0)
})

test('peer: the queue is bounded; control frames have room of their own', async (t) => {
  const a = side(A, B, { maxQueuedBytes: 100, maxControlQueuedBytes: 50 })
  // Sizes as the caller measured them; nothing is encoded while there is no connection.
  a.peer.send(envelope(0), 60)
  a.peer.send(envelope(1), 60)
  t.alike(a.drops, [{ kind: 'envelope', reason: 'queue-full', bytes: 60 }], 'the envelope past the bound is dropped and told')
  a.peer.send({ kind: 'heartbeat', seq: 1, sentAt: 0 }, 40)
  t.is(a.drops.length, 1, 'a heartbeat still fits in the control room')
  t.is(a.peer.snapshot().drops['queue-full'], 1, 'counted')
  a.peer.clear('shutdown')
  t.alike(a.drops.slice(1).map((d) => d.reason), ['shutdown', 'shutdown'], 'clear drops what was queued, each told')
})

test('peer: a heartbeat at most once per window; its ack comes back', async (t) => {
  const a = side(A, B)
  const b = side(B, A)
  const { ca } = connect(t, a, b)
  await ca.handshake
  t.ok(a.peer.heartbeat(1000), 'the first goes out')
  t.absent(a.peer.heartbeat(1000), 'a second within the window does not')
  t.ok(a.peer.heartbeat(0), 'a window of 0 always sends')
  await until(() => a.received.filter((m) => m.kind === 'heartbeat-ack').length === 2)
  t.alike(b.received.filter((m) => m.kind === 'heartbeat').map((m) => m.seq), [1, 2])
})

test('peer: a closed connection is detached and a redial asked for after the wait', async (t) => {
  const a = side(A, B)
  const b = side(B, A)
  const { ca, cb } = connect(t, a, b)
  await ca.handshake
  cb.destroy(null)
  await until(() => a.closes.length === 1)
  t.ok(a.closes[0].open, 'it was the open connection')
  t.absent(a.peer.connected)
  put(a.peer, envelope(9))
  const asked = a.dials
  a.peer.scheduleRedial(30)
  t.ok(a.peer.redialPending)
  await until(() => a.dials === asked + 1, 2000, 'the redial')
  t.absent(a.peer.redialPending)
  // A second connection takes over with what waited.
  const b2 = side(B, A)
  const { ca: again } = connect(t, a, b2)
  await again.handshake
  await until(() => b2.received.length === 1)
  t.is(b2.received[0].manifest, 'n:9')
  t.is(a.peer.snapshot().reconnects, 1, 'a reconnect counted')
})

test('peer: flushAndEnd writes the rest, says goodbye and closes', async (t) => {
  const a = side(A, B)
  const b = side(B, A)
  const { ca, cb } = connect(t, a, b, { highWaterMark: 4096 })
  await ca.handshake
  cb.socket.onend = () => cb.end()
  for (let i = 0; i < 50; i++) put(a.peer, envelope(i, new Uint8Array(500)))
  await a.peer.flushAndEnd(ca, monotonicNow() + 2000)
  t.is(ca.state, ConnectionState.CLOSED, 'closed')
  await until(() => manifests(b).length === 50, 2000)
  t.alike(manifests(b), Array.from({ length: 50 }, (_, i) => 'n:' + i), 'everything, in order')
  t.is(b.received.filter((m) => m.kind === 'goodbye').length, 1, 'and a goodbye (control lane: ahead of what still waited)')
  t.is(a.drops.length, 0, 'nothing dropped')
})
