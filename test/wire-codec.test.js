// The wire format: round trips with edge values, golden vectors both ways, frames split at every
// byte, size caps and the forward-compatibility rules.
import test from 'brittle'
import {
  encodeFrame,
  encodeMessage,
  encodeSplit,
  decodeMessage,
  messageSize,
  FrameDecoder,
  chooseVersion,
  WIRE_VERSION,
  LIMITS,
  DEFAULT_MAX_FRAME_BYTES
} from 'actor-cluster-bare'
import vectors from './vectors/frames.json' with { type: 'json' }
import { samples, fromJSON, hex, unhex, plain } from './helpers/wire-samples.js'
import { equalBytes } from './helpers/net.js'

function concat(list) {
  const out = new Uint8Array(list.reduce((n, b) => n + b.byteLength, 0))
  let o = 0
  for (const b of list) {
    out.set(b, o)
    o += b.byteLength
  }
  return out
}

// JSON with sorted keys, to compare decoded messages whatever their field order.
function canonical(v) {
  return JSON.stringify(v, (k, x) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x
  )
}

function frameOf(kindByte, rest = []) {
  const msg = new Uint8Array([kindByte, ...rest])
  const f = new Uint8Array(4 + msg.byteLength)
  new DataView(f.buffer).setUint32(0, msg.byteLength, true)
  f.set(msg, 4)
  return f
}

test('every kind round-trips, with edge values', (t) => {
  for (const [name, msg] of samples()) {
    const decoded = decodeMessage(encodeMessage(msg))
    t.alike(plain(decoded), plain(msg), name)
    t.is(encodeFrame(msg).byteLength, 4 + messageSize(msg), `${name}: frame is header + messageSize`)
  }
})

test('envelopes that share some fields with the one before encode and decode to themselves', (t) => {
  const base = { kind: 'envelope', to: '/user/a', from: null, manifest: 'm', body: new Uint8Array([1, 2, 3]), correlationId: null }
  const sequence = [
    base,
    base,
    { ...base, body: new Uint8Array(300).fill(9) },
    { ...base, to: '/user/b' },
    { ...base, to: '/user/b', from: '/user/x' },
    { ...base, to: '/user/b', from: '/user/y' },
    { ...base, to: '/user/b', from: '/user/y', manifest: 'n' },
    { ...base, correlationId: 7 },
    { ...base, from: '' },
    { ...base, to: '/user/' + 'é'.repeat(20) },
    base
  ]
  const bytes = sequence.map((m) => encodeMessage(m))
  sequence.forEach((m, i) => t.alike(plain(decodeMessage(bytes[i])), plain(m), `message ${i}`))
  t.ok(equalBytes(bytes[0], bytes[10]), 'the same envelope gives the same bytes after others')
  // A head that matches the last one decoded, then a body cut short.
  t.exception(() => decodeMessage(bytes[1].subarray(0, bytes[1].byteLength - 1)), /BAD_FRAME/, 'truncated after a known head')
  t.exception(() => encodeMessage({ ...base, to: 42 }), /BAD_FRAME/, 'a bad field is refused even right after a good one')
})

test('an envelope without correlationId encodes as one with null and decodes with null', (t) => {
  const withNull = { kind: 'envelope', to: '/user/a', from: '/user/b', manifest: 'm', body: new Uint8Array([1, 2]), correlationId: null }
  const { correlationId, ...absent } = withNull
  t.is(messageSize(absent), messageSize(withNull), 'same size')
  // Twice each, so the second goes through the kept head.
  for (let i = 0; i < 2; i++) {
    const bytes = encodeMessage(absent)
    t.ok(equalBytes(bytes, encodeMessage(withNull)), 'same bytes')
    t.alike(plain(decodeMessage(bytes)), plain(withNull), 'decodes with correlationId: null')
    t.is(encodeFrame(absent).byteLength, 4 + bytes.byteLength, 'frames too')
  }
  t.is(decodeMessage(encodeMessage({ ...absent, correlationId: undefined })).correlationId, null, 'undefined is absent')
  t.exception(() => encodeMessage({ ...absent, correlationId: 'x' }), /BAD_FRAME/, 'a present id must be a uint')
})

test('a split encoding is the whole encoding: head then body, for every kind and body length', (t) => {
  const lengths = [0, 1, 63, 64, 127, 128, 255, 256, 65535, 65536, 300000]
  let checked = 0
  for (const [name, msg] of samples()) {
    const variants = 'body' in msg ? lengths.map((n) => ({ ...msg, body: new Uint8Array(n).fill(7) })) : [msg]
    for (const m of variants) {
      const { head, body } = encodeSplit(m)
      const joined = new Uint8Array(head.byteLength + body.byteLength)
      joined.set(head, 0)
      joined.set(body, head.byteLength)
      if (!equalBytes(joined, encodeMessage(m))) t.fail(`${name}, body ${m.body?.byteLength}: differs`)
      if ('body' in m && body !== m.body) t.fail(`${name}: the body is not copied`)
      checked++
    }
  }
  t.ok(checked > lengths.length * 2, `${checked} encodings compared`)
})

test('maximal strings and a 1 MiB body round-trip; one byte more is refused', (t) => {
  const path = 'p'.repeat(LIMITS.path - 4) + '😀'
  const msg = { kind: 'envelope', to: path, from: path, manifest: 'ü'.repeat(LIMITS.manifest / 2), body: new Uint8Array(1024 * 1024).fill(7), correlationId: Number.MAX_SAFE_INTEGER }
  t.alike(plain(decodeMessage(encodeMessage(msg))), plain(msg))
  t.exception(() => encodeMessage({ ...msg, manifest: 'x'.repeat(LIMITS.manifest + 1) }), /BAD_FRAME/)
  t.exception(() => encodeMessage({ ...msg, to: path + 'x' }), /BAD_FRAME/)
  t.exception(() => encodeMessage({ ...msg, correlationId: 2 ** 53 }), /BAD_FRAME/)
  t.exception(() => encodeMessage({ ...msg, correlationId: -1 }), /BAD_FRAME/)
  t.exception(() => encodeMessage({ ...msg, body: 'not bytes' }), /BAD_FRAME/)
  t.exception(() => encodeMessage({ kind: 'nonsense' }), /UNKNOWN_KIND/)
})

test('golden vectors: encoding gives the committed bytes, decoding gives the message', (t) => {
  t.is(vectors.length, samples().length, 'one vector per sample')
  const kinds = new Set(vectors.map((v) => v.message.kind))
  t.is(kinds.size, 13, 'every kind has a vector')
  for (const v of vectors) {
    const msg = fromJSON(v.message)
    t.is(hex(encodeFrame(msg)), v.frame, `${v.name}: encode`)
    const decoded = new FrameDecoder().push(unhex(v.frame))
    t.is(decoded.length, 1)
    t.alike(plain(decoded[0]), plain(msg), `${v.name}: decode`)
  }
})

test('frames split at every byte boundary, or all in one chunk, decode the same', (t) => {
  const msgs = samples().map(([, m]) => m)
  const stream = concat(msgs.map(encodeFrame))
  const expected = plain(msgs)
  t.alike(plain(new FrameDecoder().push(stream)), expected, 'one chunk')
  let same = 0
  for (let i = 1; i < stream.byteLength; i++) {
    const d = new FrameDecoder()
    const got = [...d.push(stream.subarray(0, i)), ...d.push(stream.subarray(i))]
    if (canonical(plain(got)) === canonical(expected) && d.pendingFrameBytes === 0) same++
  }
  t.is(same, stream.byteLength - 1, `all ${stream.byteLength - 1} split points`)
  const d = new FrameDecoder()
  const got = []
  for (let i = 0; i < stream.byteLength; i++) got.push(...d.push(stream.subarray(i, i + 1)))
  t.alike(plain(got), expected, 'byte by byte')
})

test('a whole frame in one chunk is decoded without a copy', (t) => {
  const chunk = encodeFrame({ kind: 'envelope', to: 'a', from: null, manifest: 'm', body: new Uint8Array(100).fill(3), correlationId: null })
  const [msg] = new FrameDecoder().push(chunk)
  t.is(msg.body.buffer, chunk.buffer, 'body is a view of the received chunk')
})

test('a 4 GiB length claim is refused after its 4 bytes, before any payload', (t) => {
  const d = new FrameDecoder()
  t.alike(d.push(new Uint8Array([0xff, 0xff, 0xff])), [], 'three bytes: waiting')
  t.exception(() => d.push(new Uint8Array([0xff])), /FRAME_TOO_LARGE/)
  t.ok(d.bufferedBytes <= 8, 'nothing buffered for the claim')
  t.exception(() => d.push(new Uint8Array([1])), /FRAME_TOO_LARGE/, 'the decoder stays failed')
})

test('maxFrameBytes is exact: equal accepted, one more refused', (t) => {
  const size = 1024
  // A subsystem message of exactly `size` bytes (the body's length prefix grows at 253 bytes, so
  // search rather than compute).
  let msg = null
  for (let n = size; n > 0 && msg === null; n--) {
    const m = { kind: 'subsystem', channel: 'c', body: new Uint8Array(n) }
    if (messageSize(m) === size) msg = m
  }
  t.ok(msg !== null && messageSize(msg) === size, 'a message of exactly the limit')
  t.is(new FrameDecoder({ maxFrameBytes: size }).push(encodeFrame(msg)).length, 1, 'exactly the limit')
  const bigger = { ...msg, body: new Uint8Array(msg.body.byteLength + 1) }
  t.exception(() => new FrameDecoder({ maxFrameBytes: size }).push(encodeFrame(bigger).subarray(0, 4)), /FRAME_TOO_LARGE/)
})

test('FrameDecoder takes its limit as a number or an option, and refuses limits that are not one', (t) => {
  const frame = encodeFrame({ kind: 'subsystem', channel: 'c', body: new Uint8Array(2000) })
  const prefix = frame.subarray(0, 4)
  t.is(new FrameDecoder(1024).maxFrameBytes, 1024, 'a number is the limit')
  t.exception(() => new FrameDecoder(1024).push(prefix), /FRAME_TOO_LARGE/, 'and is enforced')
  t.is(new FrameDecoder(4096).push(frame).length, 1, 'a frame within it passes')
  t.is(new FrameDecoder({ maxFrameBytes: 1024 }).maxFrameBytes, 1024, 'the option form')
  t.is(new FrameDecoder().maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'the default')
  t.is(new FrameDecoder({}).maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 'the default from an empty options object')
  for (const bad of [NaN, Infinity, -Infinity, 0, -1, 1.5, '1024', 2 ** 53]) {
    t.exception(() => new FrameDecoder(bad), /BAD_OPTIONS/, `${String(bad)} refused`)
    t.exception(() => new FrameDecoder({ maxFrameBytes: bad }), /BAD_OPTIONS/, `{ maxFrameBytes: ${String(bad)} } refused`)
  }
  const d = new FrameDecoder(4096)
  t.exception(() => {
    d.maxFrameBytes = NaN
  }, /BAD_OPTIONS/, 'a NaN limit set later is refused')
  t.is(d.maxFrameBytes, 4096, 'and the limit stays')
  d.maxFrameBytes = 1024
  t.exception(() => d.push(prefix), /FRAME_TOO_LARGE/, 'a limit lowered between pushes holds')
})

test('pendingFrameBytes counts a frame begun: part of a prefix, a lone prefix, prefix and payload', (t) => {
  const frame = encodeFrame({ kind: 'subsystem', channel: 'c', body: new Uint8Array(10) })
  const d = new FrameDecoder()
  t.is(d.pendingFrameBytes, 0, 'nothing yet')
  d.push(frame.subarray(0, 2))
  t.is(d.pendingFrameBytes, 2, 'half a prefix')
  d.push(frame.subarray(2, 4))
  t.is(d.pendingFrameBytes, 4, 'a whole prefix and no payload')
  d.push(frame.subarray(4, 6))
  t.is(d.pendingFrameBytes, 6, 'prefix and two payload bytes')
  t.is(d.push(frame.subarray(6)).length, 1, 'the frame completes')
  t.is(d.pendingFrameBytes, 0, 'nothing pending after it')
  const e = new FrameDecoder()
  e.push(frame.subarray(0, 4))
  t.is(e.pendingFrameBytes, 4, 'a prefix alone in one chunk')
})

test('memory follows bytes received: a large split frame is released after use', (t) => {
  const big = encodeFrame({ kind: 'subsystem', channel: 'c', body: new Uint8Array(4 * 1024 * 1024) })
  const d = new FrameDecoder()
  let peak = 0
  for (let i = 0; i < big.byteLength; i += 65536) {
    d.push(big.subarray(i, Math.min(big.byteLength, i + 65536)))
    peak = Math.max(peak, d.bufferedBytes)
    t.ok(d.bufferedBytes <= 2 * (i + 65536) + 4096 + 4, `after ${i + 65536} bytes`)
  }
  t.ok(peak >= 4 * 1024 * 1024, 'the frame was gathered')
  t.ok(d.bufferedBytes <= 8, 'released after the frame')
  // A claim of 16 MiB with 10 bytes sent holds about 10 bytes, not 16 MiB.
  const claim = new Uint8Array(14)
  new DataView(claim.buffer).setUint32(0, 16 * 1024 * 1024, true)
  const d2 = new FrameDecoder()
  d2.push(claim)
  t.ok(d2.bufferedBytes <= 4096 + 4, `claim holds ${d2.bufferedBytes} bytes`)
})

test('unknown core kinds are refused, unknown extension kinds skipped, trailing bytes ignored', (t) => {
  t.exception(() => new FrameDecoder().push(frameOf(100)), /UNKNOWN_KIND/)
  t.exception(() => new FrameDecoder().push(frameOf(0)), /UNKNOWN_KIND/)
  const d = new FrameDecoder()
  const goodbye = encodeFrame({ kind: 'goodbye', reason: 'x' })
  const got = d.push(concat([frameOf(200, [1, 2, 3]), goodbye]))
  t.is(d.skippedFrames, 1, 'extension frame skipped')
  t.alike(got.map((m) => m.kind), ['goodbye'], 'the next frame still decodes')
  const withTail = concat([encodeMessage({ kind: 'leave', address: 'a' }), new Uint8Array([9, 9, 9])])
  t.is(decodeMessage(withTail).address, 'a', 'fields a newer version appends are ignored')
  t.exception(() => new FrameDecoder().push(new Uint8Array([0, 0, 0, 0])), /BAD_FRAME/, 'empty frame')
  t.exception(() => decodeMessage(encodeMessage({ kind: 'leave', address: 'abc' }).subarray(0, 3)), /BAD_FRAME/, 'truncated')
})

test('version negotiation picks the highest common version or refuses', (t) => {
  t.is(chooseVersion(1, WIRE_VERSION), WIRE_VERSION)
  t.is(chooseVersion(1, 99), WIRE_VERSION, 'a newer peer meets us at ours')
  // Version 1 records are unsigned: a node that speaks only version 1 is refused.
  t.exception(() => chooseVersion(1, 1), /BAD_VERSION/)
  t.exception(() => chooseVersion(WIRE_VERSION + 1, WIRE_VERSION + 5), /BAD_VERSION/)
  t.exception(() => chooseVersion(3, 2), /BAD_VERSION/)
})

test('list lengths are capped and checked against the bytes there', (t) => {
  // A gossip frame claiming 10,000 digest entries in 3 bytes.
  const lie = frameOf(6, [0, 0xfd, 0x10, 0x27])
  t.exception(() => new FrameDecoder().push(lie), /BAD_FRAME/)
  const tooMany = frameOf(6, [0, 0xfe, 0xff, 0xff, 0xff, 0x00])
  t.exception(() => new FrameDecoder().push(tooMany), /BAD_FRAME/)
})

test('strings that are not valid UTF-8 are refused, so nothing decoded can outgrow its cap when sent on', (t) => {
  const role = new Uint8Array(100).fill(0xff)
  // A leave message whose address is invalid UTF-8 (kind 9, length 100, bytes).
  const msg = new Uint8Array([9, 100, ...role])
  t.exception(() => decodeMessage(msg), /BAD_FRAME/)
  const ok = encodeMessage({ kind: 'leave', address: 'actor-cluster://ü@127.0.0.1:1' })
  t.is(decodeMessage(ok).address, 'actor-cluster://ü@127.0.0.1:1', 'valid non-ASCII still decodes')
})
