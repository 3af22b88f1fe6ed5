// Strangers on raw sockets against a running node, while a legitimate peer keeps exchanging
// envelopes with it. Each hostile connection must end closed with a logged code, the node's
// memory must stay bounded, and the legitimate traffic must arrive whole and in order.
import test from 'brittle'
import b4a from 'b4a'
import { getTcpBackend, detectRuntime, encodeFrame, createLogger, WIRE_VERSION } from 'actor-cluster-bare'
import { tcpNode, until, envelope } from './helpers/transport.js'
import { HOST, sleep } from './helpers/net.js'

const runtime = detectRuntime()
const backend = getTcpBackend()

function hello(from) {
  return {
    kind: 'hello',
    minVersion: WIRE_VERSION,
    maxVersion: WIRE_VERSION,
    cluster: 'test',
    from,
    incarnation: 1,
    maxFrameBytes: 1 << 20,
    features: 0,
    nonce: new Uint8Array(32),
    proof: null
  }
}

// Opens a raw connection, runs `attack` on it, and resolves when the node has closed it.
async function stranger(port, attack) {
  const socket = await backend.connect({ host: HOST, port })
  socket.ondata = () => {}
  const closed = new Promise((resolve) => (socket.onclose = resolve))
  socket.onend = () => socket.end()
  await attack(socket)
  await closed
}

// Resident memory in bytes: bare-os on Bare, process.memoryUsage elsewhere.
const bareOs = typeof globalThis.Bare !== 'undefined' ? (await import('bare-os')).default : null

function memory() {
  if (bareOs !== null) return bareOs.memoryUsage().rss
  const p = globalThis.process
  return typeof p?.memoryUsage === 'function' ? p.memoryUsage().rss : null
}

test(`${runtime}: hostile connections are closed with a code while a peer's traffic flows untouched`, { timeout: 120000 }, async (t) => {
  const lines = []
  const log = createLogger('debug', (r) => lines.push(r.msg))
  const node = await tcpNode(t, 'node', { log, handshakeTimeoutMs: 600, stallTimeoutMs: 400 })
  const peer = await tcpNode(t, 'peer')
  const codes = []
  node.on('connection-error', (err) => codes.push(err.code))

  // The legitimate peer: a steady stream both ways for the whole attack.
  const N = 3000
  let sending = true
  const traffic = (async () => {
    for (let i = 0; i < N && sending; i++) {
      peer.send(node.self, envelope(i))
      node.send(peer.self, envelope(i))
      if (i % 20 === 19) await sleep(2)
    }
  })()

  const port = node.self.port
  const before = memory()
  const attacks = {
    'random bytes': (s) => {
      const junk = new Uint8Array(64 * 1024)
      for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919 + 13) & 0xff
      s.write(junk)
    },
    'a 4 GiB length claim': (s) => s.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3])),
    'a frame that stops halfway, before the handshake': (s) => s.write(encodeFrame(hello('actor-cluster://test@127.0.0.1:7')).subarray(0, 30)),
    'a handshake sent one byte at a time, slowly': async (s) => {
      const frame = encodeFrame(hello('actor-cluster://test@127.0.0.1:8'))
      for (let i = 0; i < frame.byteLength && !s.closed; i++) {
        s.write(frame.subarray(i, i + 1))
        await sleep(100)
      }
    },
    'a valid handshake followed by garbage': (s) => {
      s.write(encodeFrame(hello('actor-cluster://test@127.0.0.1:9')))
      s.write(b4a.from('\u0005\u0000\u0000\u0000\u0063garbage after the handshake'))
    },
    'a valid handshake, then a frame that stops halfway': (s) => {
      s.write(encodeFrame(hello('actor-cluster://test@127.0.0.1:10')))
      s.write(encodeFrame(envelope(0, new Uint8Array(1000))).subarray(0, 500))
    }
  }
  const expected = {
    'random bytes': ['BAD_FRAME', 'FRAME_TOO_LARGE', 'UNKNOWN_KIND'],
    'a 4 GiB length claim': ['FRAME_TOO_LARGE'],
    'a frame that stops halfway, before the handshake': ['HANDSHAKE_TIMEOUT', 'STALLED'],
    'a handshake sent one byte at a time, slowly': ['HANDSHAKE_TIMEOUT'],
    'a valid handshake followed by garbage': ['UNKNOWN_KIND', 'BAD_FRAME'],
    'a valid handshake, then a frame that stops halfway': ['STALLED']
  }
  for (const [name, attack] of Object.entries(attacks)) {
    codes.length = 0
    await stranger(port, attack)
    await until(() => codes.length > 0, 3000, `a code for ${name}`)
    t.ok(expected[name].includes(codes[0]), `${name}: closed with ${codes[0]}`)
  }
  t.ok(lines.some((l) => /closed: (BAD_FRAME|FRAME_TOO_LARGE|UNKNOWN_KIND|HANDSHAKE_TIMEOUT|STALLED)/.test(l)), 'codes are in the log')

  // 2,000 connections opened and left idle.
  codes.length = 0
  const idle = []
  for (let i = 0; i < 2000; i++) {
    const s = await backend.connect({ host: HOST, port })
    s.ondata = () => {}
    s.onend = () => s.end()
    idle.push(new Promise((resolve) => (s.onclose = resolve)))
  }
  t.ok(node.stats().inboundConnections <= 1024, `at most 1024 handshaking at once (${node.stats().inboundConnections})`)
  await Promise.all(idle)
  await until(() => codes.length >= 2000, 3000, 'a code for every idle connection')
  const tally = {}
  for (const c of codes) tally[c] = (tally[c] ?? 0) + 1
  t.comment(JSON.stringify(tally))
  const refusedOrTimedOut = codes.filter((c) => c === 'TOO_MANY_CONNECTIONS' || c === 'HANDSHAKE_TIMEOUT').length
  t.is(refusedOrTimedOut, 2000, `every idle connection closed (${node.stats().rejected.TOO_MANY_CONNECTIONS ?? 0} refused at once, the rest timed out)`)
  await until(() => node.stats().inboundConnections === 0, 3000, 'nothing left handshaking')
  const after = memory()
  if (before !== null && after !== null) {
    // Both ends of every connection live in this process: 4,000 sockets, each allowed about
    // 96 KiB (bare-tcp alone reads into 64 KiB per socket). What must not happen is growth with
    // what the strangers claimed or sent.
    const bound = 4000 * 96 * 1024
    t.ok(after - before < bound, `memory grew ${Math.round((after - before) / 1048576)} MiB (bound ${bound / 1048576} MiB)`)
  } else {
    t.comment('no memory reading on this runtime')
  }

  await traffic
  sending = false
  await until(() => node.received.length === N && peer.received.length === N, 20000, 'all legitimate envelopes')
  t.ok(node.received.every((r, i) => r.msg.manifest === 'n:' + i && r.from.equals(peer.self)), 'peer to node: all, in order')
  t.ok(peer.received.every((r, i) => r.msg.manifest === 'n:' + i), 'node to peer: all, in order')
  t.is(node.stats(peer.self).reconnects, 0, 'the legitimate connection never dropped')
})

test(`${runtime}: a lone length prefix after the handshake is stalled out`, async (t) => {
  const node = await tcpNode(t, 'node', { stallTimeoutMs: 300 })
  const codes = []
  node.on('connection-error', (err) => codes.push(err.code))
  const socket = await backend.connect({ host: HOST, port: node.self.port })
  t.teardown(() => socket.destroy(null))
  socket.ondata = () => {}
  socket.onend = () => socket.end()
  let closed = false
  socket.onclose = () => (closed = true)
  socket.write(encodeFrame(hello('actor-cluster://test@127.0.0.1:11')))
  await until(() => node.peers().length === 1, 3000, 'the handshake')
  // Four bytes announcing a frame, and not one byte of it.
  socket.write(new Uint8Array([100, 0, 0, 0]))
  await until(() => codes.length > 0, 5000, 'the connection to be stalled out')
  t.is(codes[0], 'STALLED')
  await until(() => closed, 3000, 'the socket closed')
  t.is(node.stats().rejected.STALLED, 1, 'counted')
})

test(`${runtime}: without a secret, a hello in a live peer's name with an incarnation no larger is refused`, async (t) => {
  const lines = []
  const log = createLogger('warn', (r) => lines.push(r.msg))
  const node = await tcpNode(t, 'node', { log })
  const peer = await tcpNode(t, 'peer')
  // The peer dials, so the node's open connection is one the peer made.
  peer.send(node.self, envelope(0))
  await until(() => node.received.length === 1, 5000, 'the peer connected')
  const codes = []
  node.on('connection-error', (err) => codes.push(err.code))
  for (const incarnation of [peer.incarnation - 1, peer.incarnation, 1]) {
    let heard = 0
    await stranger(node.self.port, (s) => {
      s.ondata = (c) => (heard += c.byteLength)
      s.write(encodeFrame({ ...hello(peer.self.toString()), incarnation }))
    })
    t.ok(heard > 0, 'told why (a goodbye)')
  }
  await until(() => codes.length === 3, 3000, 'three refusals')
  t.alike(codes, ['STALE_INCARNATION', 'STALE_INCARNATION', 'STALE_INCARNATION'])
  t.is(node.stats().rejected.STALE_INCARNATION, 3, 'counted')
  t.ok(lines.some((l) => /refused a hello in the name of/.test(l)), 'logged at warn')
  node.send(peer.self, envelope(1))
  await until(() => peer.received.length === 1, 5000, 'traffic still reaches the real peer')
  t.is(node.stats(peer.self).reconnects, 0, 'its connection untouched')
})

test(`${runtime}: chunked messages held open are capped per connection and per node, and stalled out`, { timeout: 60000 }, async (t) => {
  const MAX = 1024 * 1024
  const node = await tcpNode(t, 'node', { maxFrameBytes: MAX, maxReassemblyBytes: 2 * MAX, stallTimeoutMs: 500 })
  const codes = []
  node.on('connection-error', (err) => codes.push(err.code))
  const PIECE = 256 * 1024
  const total = MAX - 64
  const chunk = (id, offset) => encodeFrame({ kind: 'chunk', id, offset, totalBytes: total, data: new Uint8Array(PIECE).fill(id) })
  const open = []
  // Four strangers under made-up addresses each start a message of almost 1 MiB and keep the
  // connection busy with heartbeats, never sending its last piece.
  for (let i = 0; i < 4; i++) {
    const socket = await backend.connect({ host: HOST, port: node.self.port })
    // The node's answer first: until the handshake is done it takes no frame this large.
    const acked = new Promise((resolve) => (socket.ondata = resolve))
    socket.onend = () => socket.end()
    const closed = new Promise((resolve) => (socket.onclose = resolve))
    socket.write(encodeFrame(hello(`actor-cluster://test@127.0.0.1:${3001 + i}`)))
    await acked
    socket.ondata = () => {}
    socket.write(encodeFrame({ kind: 'resume', next: 1 }))
    for (let offset = 0; offset < 3 * PIECE; offset += PIECE) socket.write(chunk(1, offset))
    const beat = setInterval(() => socket.write(encodeFrame({ kind: 'heartbeat', seq: 1, sentAt: 0 })), 100)
    t.teardown(() => clearInterval(beat))
    open.push(closed.then(() => clearInterval(beat)))
    await until(() => node.stats().reassemblyBytes >= Math.min(2 * MAX, 3 * PIECE * (i + 1)) || codes.length > i - 2, 3000, `stranger ${i}'s pieces`)
  }
  t.ok(node.stats().reassemblyBytes <= 2 * MAX, `never more than the node's cap held (${node.stats().reassemblyBytes})`)
  await Promise.all(open)
  await until(() => codes.length === 4, 3000, 'a code for each')
  t.alike(codes.slice().sort(), ['REASSEMBLY_FULL', 'REASSEMBLY_FULL', 'STALLED', 'STALLED'], 'two refused at the cap, two stalled out')
  t.is(node.stats().reassemblyBytes, 0, 'all of it released')
  t.is(node.stats().rejected.STALLED, 2, 'counted')

  // One connection may hold one frame's worth: a second message on top is refused.
  codes.length = 0
  await stranger(node.self.port, async (s) => {
    const acked = new Promise((resolve) => (s.ondata = resolve))
    s.write(encodeFrame(hello('actor-cluster://test@127.0.0.1:3009')))
    await acked
    s.write(encodeFrame({ kind: 'resume', next: 1 }))
    for (let offset = 0; offset < 3 * PIECE; offset += PIECE) s.write(chunk(1, offset))
    for (let offset = 0; offset < 2 * PIECE; offset += PIECE) s.write(chunk(2, offset))
  })
  await until(() => codes.length === 1, 3000, 'the refusal')
  t.is(codes[0], 'FRAME_TOO_LARGE')
  t.is(node.stats().reassemblyBytes, 0)
})

test(`${runtime}: four connections trying to hold sixteen large messages open are cut, and memory stays near the node's cap`, { timeout: 60000 }, async (t) => {
  const MAX = 8 * 1024 * 1024
  const CAP = 2 * MAX
  const node = await tcpNode(t, 'node', { maxFrameBytes: MAX, maxReassemblyBytes: CAP, stallTimeoutMs: 500 })
  const codes = []
  node.on('connection-error', (err) => codes.push(err.code))
  // Each stranger opens four messages of almost 8 MiB side by side and sends all but the last
  // piece of each: 124 MiB held if nothing stopped them. The frames are made once, before memory
  // is measured.
  const PIECE = 256 * 1024
  const total = MAX - 64
  const frames = []
  for (let offset = 0; offset + PIECE < total; offset += PIECE) {
    for (let id = 1; id <= 4; id++) {
      frames.push(encodeFrame({ kind: 'chunk', id, offset, totalBytes: total, data: new Uint8Array(PIECE).fill(id) }))
    }
  }
  const beat = encodeFrame({ kind: 'heartbeat', seq: 1, sentAt: 0 })
  const sockets = []
  t.teardown(() => sockets.forEach((s) => s.destroy(null)))
  const holdOpen = async (address) => {
    const { socket, closed } = await handshaken(node.self.port, address)
    sockets.push(socket)
    socket.write(encodeFrame({ kind: 'resume', next: 1 }))
    for (const f of frames) {
      if (socket.closed) break
      if (!socket.write(f)) await Promise.race([new Promise((resolve) => (socket.ondrain = resolve)), closed])
    }
    // Kept busy, so only the stopped messages can stall it out.
    const timer = setInterval(() => socket.closed || socket.write(beat), 100)
    t.teardown(() => clearInterval(timer))
    await closed
    clearInterval(timer)
  }
  const before = memory()
  let peak = before
  const sampler = setInterval(() => (peak = Math.max(peak, memory())), 10)
  t.teardown(() => clearInterval(sampler))
  const strangers = Promise.all([0, 1, 2, 3].map((i) => holdOpen(`actor-cluster://test@127.0.0.1:${3101 + i}`)))
  const cut = await Promise.race([strangers.then(() => true), sleep(10000).then(() => false)])
  clearInterval(sampler)
  t.ok(cut, 'every stranger cut within 10 s')
  await until(() => codes.length === 4 || !cut, 3000, 'a code for each')
  t.ok(codes.length === 4 && codes.every((c) => ['REASSEMBLY_FULL', 'FRAME_TOO_LARGE', 'STALLED'].includes(c)), `each cut with a code (${codes.join(', ')})`)
  t.is(node.stats().reassemblyBytes, 0, 'nothing held after')
  if (before !== null) {
    // What the node may hold is its cap; the rest is room for socket buffers and garbage not yet
    // collected (what was read before each cut). Held without limits, the pieces alone would be
    // 124 MiB.
    const bound = CAP + 48 * 1024 * 1024
    t.ok(peak - before < bound, `memory grew at most ${Math.round((peak - before) / 1048576)} MiB (bound ${bound / 1048576} MiB)`)
  } else {
    t.comment('no memory reading on this runtime')
  }
})

// A stranger that finishes a handshake under `address` and sends one heartbeat; resolves with
// the socket once the node has answered, and a promise of its close.
async function handshaken(port, address) {
  const socket = await backend.connect({ host: HOST, port })
  const acked = new Promise((resolve) => (socket.ondata = resolve))
  socket.onend = () => socket.end()
  const closed = new Promise((resolve) => (socket.onclose = resolve))
  socket.write(encodeFrame(hello(address)))
  await Promise.race([acked, closed])
  socket.ondata = () => {}
  if (!socket.closed) socket.write(encodeFrame({ kind: 'heartbeat', seq: 1, sentAt: 0 }))
  return { socket, closed }
}

test(`${runtime}: established connections from peers are capped by maxConnections`, async (t) => {
  const node = await tcpNode(t, 'node', { maxConnections: 3 })
  const codes = []
  node.on('connection-error', (err) => codes.push(err.code))
  const strangers = []
  for (let i = 0; i < 5; i++) strangers.push(await handshaken(node.self.port, `actor-cluster://test@127.0.0.1:${4001 + i}`))
  await until(() => codes.length === 2, 3000, 'two refused')
  t.alike(codes, ['TOO_MANY_CONNECTIONS', 'TOO_MANY_CONNECTIONS'])
  t.is(node.peers().length, 3, 'three open')
  strangers[0].socket.destroy(null)
  await strangers[0].closed
  await until(() => node.peers().length === 2, 3000, 'one closed')
  const late = await handshaken(node.self.port, 'actor-cluster://test@127.0.0.1:4010')
  t.teardown(() => late.socket.destroy(null))
  await until(() => node.peers().length === 3, 3000, 'room again for one more')
  for (const s of strangers) s.socket.destroy(null)
})

test(`${runtime}: the peer table stays bounded under many handshakes with made-up addresses`, { timeout: 120000 }, async (t) => {
  const node = await tcpNode(t, 'node', { maxPeers: 100, stallTimeoutMs: 200 })
  // 5,000 distinct addresses, ten handshakes at a time.
  const N = 5000
  const WIDE = 10
  for (let i = 0; i < N; i += WIDE) {
    await Promise.all(Array.from({ length: WIDE }, async (_, j) => {
      const k = i + j
      const { socket, closed } = await handshaken(node.self.port, `actor-cluster://test@10.${(k >> 8) & 255}.${k & 255}.1:5000`)
      socket.destroy(null)
      await closed
    }))
  }
  await until(() => node.stats().knownPeers <= 100, 3000, 'the table back under its bound')
  const s = node.stats()
  t.ok(s.knownPeers <= 100, `${s.knownPeers} peers remembered after ${N} handshakes`)
  await until(() => node.stats().framesIn >= N, 3000, 'every heartbeat counted')
  t.ok(node.stats().framesIn >= N, 'what forgotten peers sent is still in the totals')

  const quick = await tcpNode(t, 'quick', { forgetPeerAfterMs: 100, stallTimeoutMs: 200 })
  const one = await handshaken(quick.self.port, 'actor-cluster://test@127.0.0.1:5999')
  await until(() => quick.stats().knownPeers === 1, 3000, 'known while connected')
  one.socket.destroy(null)
  await until(() => quick.stats().knownPeers === 0, 3000, 'forgotten once idle a while')
  t.pass('an idle peer is forgotten after forgetPeerAfterMs')
})
