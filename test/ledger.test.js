// The delivery ledger over an in-process socket pair: frames are numbered and acknowledged, what
// a dead connection carried unacknowledged is written again to the same incarnation and its
// duplicates discarded, what a restarted peer never acknowledged is counted, and the counts close.
import test from 'brittle'
import { NodeAddress, messageSize } from 'actor-cluster-bare'
import { Connection, Peer } from 'actor-cluster-bare/testkit'
import { socketPair } from './helpers/socket-pair.js'
import { envelope, until } from './helpers/transport.js'

const A = NodeAddress.parse('actor-cluster://ledger@127.0.0.1:5001')
const B = NodeAddress.parse('actor-cluster://ledger@127.0.0.1:5002')
const PEER_OPTS = { maxQueuedBytes: 4 << 20, maxControlQueuedBytes: 1 << 16, backoffBaseMs: 10, backoffMaxMs: 100 }
const MAX_FRAME = 8 << 20

function identity(address, incarnation) {
  return { address, cluster: 'ledger', incarnation, maxFrameBytes: MAX_FRAME, secret: null }
}

// One node's view of the other: a Peer, and the owner its Connections report to, as a transport's.
function side(self, other, incarnation, opts = {}) {
  const peer = new Peer(other, { ...PEER_OPTS, ...opts })
  const s = { self, incarnation, peer, received: [], drops: [], conns: [] }
  peer.ondrop = (_p, kind, bytes, reason, count) => s.drops.push({ kind, reason, count })
  s.owner = {
    _onhello: () => null,
    _delivered: opts.forgetful ? () => null : () => ({ incarnation: peer.ledger.from, delivered: peer.ledger.highest }),
    _onopen: (conn) => {
      const previous = peer.attach(conn)
      previous?.destroy(null)
      peer.flush()
    },
    _onmessage: (conn, msg) => {
      if (!peer.received(conn, msg)) return
      if (msg.kind === 'envelope') s.received.push(msg.manifest)
      s.onenvelope?.(msg)
    },
    _ondrain: () => peer.flush(),
    _onclose: (conn) => peer.detach(conn)
  }
  return s
}

async function connect(t, a, b) {
  const [sa, sb] = socketPair()
  const ca = new Connection(a.owner, sa, identity(a.self, a.incarnation), { outbound: true, expected: b.self, handshakeTimeoutMs: 2000 })
  const cb = new Connection(b.owner, sb, identity(b.self, b.incarnation), { outbound: false, handshakeTimeoutMs: 2000 })
  t.teardown(() => {
    ca.destroy(null)
    cb.destroy(null)
  })
  t.is(await ca.handshake, null, 'handshake')
  return { ca, cb }
}

function put(peer, msg) {
  peer.send(msg, messageSize(msg))
}

function delivery(s) {
  return s.peer.snapshot().delivery
}

function dropped(d) {
  return Object.values(d.dropped).reduce((x, y) => x + y, 0)
}

const sequence = (from, to) => Array.from({ length: to - from }, (_, i) => `n:${from + i}`)

test('ledger: a connection cut mid-stream to the same incarnation loses nothing and delivers nothing twice', async (t) => {
  const a = side(A, B, 10)
  const b = side(B, A, 20)
  const first = await connect(t, a, b)
  const N = 3000
  for (let i = 0; i < N; i++) put(a.peer, envelope(i, new Uint8Array(100)))
  await until(() => b.received.length >= 500, 5000, 'some delivered')
  const atCut = delivery(a)
  first.ca.destroy(null)
  await until(() => !a.peer.connected && !b.peer.connected, 2000, 'both sides saw the cut')
  t.ok(atCut.pending > 0, `${atCut.pending} pending when the connection died`)
  t.ok(atCut.delivered < N, 'not all acknowledged before the cut')
  await connect(t, a, b)
  await until(() => delivery(a).pending === 0, 5000, 'everything acknowledged')
  t.alike(b.received, sequence(0, N), 'every envelope once, in order')
  const d = delivery(a)
  t.is(d.sent, N)
  t.is(d.delivered, N, 'all delivered')
  t.alike(d.dropped, {}, 'nothing dropped')
  t.is(d.unackedBytes, 0, 'nothing kept')
  t.is(a.drops.length, 0)
})

test('ledger: without the handshake saying what arrived, the resend is discarded as duplicates', async (t) => {
  const a = side(A, B, 10)
  const b = side(B, A, 20, { forgetful: true })
  let conn = null
  // Cut the moment the 700th envelope is handed up: its ack (and others') never goes out.
  b.onenvelope = () => {
    if (b.received.length === 700) conn.cb.destroy(null)
  }
  conn = await connect(t, a, b)
  const N = 1000
  for (let i = 0; i < N; i++) put(a.peer, envelope(i))
  await until(() => !a.peer.connected && !b.peer.connected, 5000, 'cut')
  b.onenvelope = null
  await connect(t, a, b)
  await until(() => delivery(a).pending === 0, 5000, 'everything acknowledged')
  t.alike(b.received, sequence(0, N), 'every envelope once, in order')
  t.ok(delivery(b).duplicates > 0, `${delivery(b).duplicates} resent duplicates discarded`)
  const d = delivery(a)
  t.is(d.delivered, N)
  t.alike(d.dropped, {})
})

test('ledger: a large message cut part-way continues on the next connection; what follows arrives', async (t) => {
  const a = side(A, B, 10, { maxQueuedBytes: 16 << 20 })
  const b = side(B, A, 20)
  const first = await connect(t, a, b)
  // Cut by the receiver once a megabyte is in, before it reads any more.
  const ondata = first.cb.socket.ondata
  first.cb.socket.ondata = (chunk) => {
    if (first.cb.bytesIn > 1 << 20) return
    ondata(chunk)
    if (first.cb.bytesIn > 1 << 20) first.cb.destroy(null)
  }
  const big = new Uint8Array(4 << 20).fill(7)
  put(a.peer, envelope('big', big))
  for (let i = 0; i < 200; i++) put(a.peer, envelope(i))
  await until(() => !a.peer.connected && !b.peer.connected, 5000, 'cut')
  t.is(b.received.length, 0, 'nothing whole yet')
  await connect(t, a, b)
  await until(() => delivery(a).pending === 0, 10000, 'everything acknowledged')
  t.alike(b.received, ['n:big', ...sequence(0, 200)], 'the big one, then the small ones, once each')
  t.alike(delivery(a).dropped, {}, 'nothing dropped')
  t.is(delivery(a).delivered, 201)
})

test('ledger: a restarted peer: what it never acknowledged is counted peer-restarted, later messages arrive', async (t) => {
  const a = side(A, B, 10)
  const b = side(B, A, 20)
  const first = await connect(t, a, b)
  const N = 3000
  for (let i = 0; i < N; i++) put(a.peer, envelope(i, new Uint8Array(100)))
  await until(() => b.received.length >= 500, 5000, 'some delivered')
  first.ca.destroy(null)
  await until(() => !a.peer.connected, 2000, 'cut')
  const before = delivery(a)
  t.ok(before.pending > 0, 'unacknowledged ones when it died')
  // The same address, a larger incarnation: the process restarted and remembers nothing.
  const b2 = side(B, A, 30)
  await connect(t, a, b2)
  for (let i = N; i < N + 10; i++) put(a.peer, envelope(i))
  await until(() => delivery(a).pending === 0, 5000, 'everything settled')
  const d = delivery(a)
  const lost = d.dropped['peer-restarted'] ?? 0
  t.ok(lost > 0, `${lost} counted as peer-restarted`)
  t.is(d.sent, N + 10)
  t.is(d.sent, d.delivered + dropped(d), 'sent = delivered + dropped')
  t.alike(b2.received.slice(-10), sequence(N, N + 10), 'the later ones arrive')
  const seen = new Set(b.received)
  t.ok(b2.received.every((m) => !seen.has(m)), 'nothing delivered to both runs')
  t.ok(b.received.length + b2.received.length + lost >= N + 10, 'each one delivered or counted')
  t.is(a.drops.filter((e) => e.reason === 'peer-restarted').reduce((n, e) => n + e.count, 0), lost, 'drop events say as many')
})

test('ledger: acks come often enough that a steady stream never fills the bound', async (t) => {
  const a = side(A, B, 10, { maxQueuedBytes: 1 << 20 })
  const b = side(B, A, 20)
  await connect(t, a, b)
  let most = 0
  const N = 40_000
  for (let i = 0; i < N; i += 500) {
    for (let j = i; j < i + 500; j++) put(a.peer, envelope(j))
    await new Promise((resolve) => setImmediate(resolve))
    most = Math.max(most, a.peer.ledger.keptBytes)
    // A well-behaved sender waits while its queue is long.
    while (a.peer.snapshot().queuedBytes > 256 << 10) await new Promise((resolve) => setImmediate(resolve))
  }
  await until(() => delivery(a).pending === 0, 10000, 'everything acknowledged')
  t.is(delivery(a).delivered, N)
  t.alike(delivery(a).dropped, {}, 'nothing refused as over the bound')
  t.ok(most < 1 << 20, `at most ${most} bytes kept unacknowledged`)
  t.is(b.received.length, N)
})

test('ledger: a numbered frame before the sender said where numbers start is refused', async (t) => {
  const { encodeFrame } = await import('actor-cluster-bare')
  // A dialler that opens and writes an envelope straight away, with no resume first.
  const rogue = side(A, B, 10)
  rogue.owner._onopen = (conn) => conn.write(encodeFrame(envelope('rogue')))
  const b = side(B, A, 20)
  const { cb } = await connect(t, rogue, b)
  await cb.closed
  t.absent(b.received.includes('n:rogue'), 'not handed up')
})
