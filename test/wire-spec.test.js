// The written format against the committed bytes: a second reader, built from docs/wire.md alone
// and sharing no code with lib/wire, must read every golden vector to its message and use every
// byte. If the document and the codec drift apart, this fails. Also: batches written with
// encodeFrameInto, and large envelopes cut into chunks and joined as the document says.
import test from 'brittle'
import b4a from 'b4a'
import {
  encodeFrame,
  encodeFrameInto,
  encodeMessage,
  decodeMessage,
  messageSize,
  FrameDecoder,
  FRAME_HEADER_BYTES
} from 'actor-cluster-bare'
import vectors from './vectors/frames.json' with { type: 'json' }
import { samples, fromJSON, unhex, plain } from './helpers/wire-samples.js'

const KINDS = [
  null,
  'hello',
  'hello-ack',
  'auth',
  'heartbeat',
  'heartbeat-ack',
  'gossip',
  'envelope',
  'subsystem',
  'leave',
  'goodbye',
  'chunk',
  'ack',
  'resume'
]
const STATUSES = ['joining', 'up', 'leaving', 'down', 'removed']
const CHUNK_BYTES = 64 * 1024

test('a reader written from docs/wire.md reads every vector and uses every byte', (t) => {
  for (const v of vectors) {
    const frame = unhex(v.frame)
    const r = new SpecReader(frame)
    const length = r.uint32le()
    t.is(length, frame.byteLength - 4, `${v.name}: the prefix counts the message bytes`)
    const msg = r.message()
    t.is(r.at, frame.byteLength, `${v.name}: no byte left unexplained`)
    t.alike(plain(msg), plain(fromJSON(v.message)), `${v.name}: same message as the vector`)
  }
})

test('a batch written with encodeFrameInto equals the frames one by one', (t) => {
  const msgs = samples().map(([, m]) => m)
  const sizes = msgs.map(messageSize)
  const total = sizes.reduce((n, s) => n + FRAME_HEADER_BYTES + s, 0)
  const state = { start: 0, end: total, buffer: b4a.allocUnsafe(total) }
  for (let i = 0; i < msgs.length; i++) encodeFrameInto(state, msgs[i], sizes[i])
  t.is(state.start, total, 'start advanced to the end of the batch')
  t.ok(b4a.equals(state.buffer, b4a.concat(msgs.map(encodeFrame))), 'same bytes')

  // Written at an offset inside a larger buffer, nothing outside its range changes.
  const wide = b4a.alloc(total + 20, 0xaa)
  const at = { start: 10, end: 10 + total, buffer: wide }
  for (let i = 0; i < msgs.length; i++) encodeFrameInto(at, msgs[i], sizes[i])
  t.is(at.start, 10 + total)
  t.ok(wide.subarray(0, 10).every((x) => x === 0xaa), 'bytes before untouched')
  t.ok(wide.subarray(10 + total).every((x) => x === 0xaa), 'bytes after untouched')
  t.alike(plain(new FrameDecoder().push(wide.subarray(10, 10 + total))), plain(msgs))
})

test('a large envelope cut into chunks, with control frames between, joins to the envelope', (t) => {
  const body = new Uint8Array(200 * 1024 + 17)
  for (let i = 0; i < body.byteLength; i++) body[i] = (i * 7) & 0xff
  const envelope = {
    kind: 'envelope',
    to: 'actor-cluster://sys@127.0.0.1:1/user/ünïcødé-😀',
    from: 'actor-cluster://sys@127.0.0.1:2/user/asker',
    manifest: 'bin',
    body,
    correlationId: 9
  }
  const whole = encodeMessage(envelope)
  const frames = []
  for (let offset = 0; offset < whole.byteLength; offset += CHUNK_BYTES) {
    const data = whole.subarray(offset, offset + CHUNK_BYTES)
    frames.push(encodeFrame({ kind: 'chunk', id: 3, offset, totalBytes: whole.byteLength, data }))
    frames.push(encodeFrame({ kind: 'heartbeat', seq: offset, sentAt: 1.5 }))
  }
  const stream = b4a.concat(frames)

  // Fed in uneven slices; pieces are kept as the decoder handed them out, joined only at the end,
  // so a decoder that reused its buffer under an earlier piece would show here.
  const d = new FrameDecoder()
  const pieces = []
  let heartbeats = 0
  let done = null
  for (let o = 0, step = 1; o < stream.byteLength; o += step, step = (step * 3 + 1) % 9973) {
    for (const m of d.push(stream.subarray(o, o + step))) {
      if (m.kind === 'heartbeat') {
        heartbeats++
        continue
      }
      t.is(m.offset, pieces.reduce((n, p) => n + p.byteLength, 0), 'pieces arrive in order')
      pieces.push(m.data)
      if (m.offset + m.data.byteLength === m.totalBytes) done = decodeMessage(b4a.concat(pieces))
    }
  }
  t.is(heartbeats, frames.length / 2, 'control frames between the pieces came through')
  t.ok(done !== null, 'complete when offset + data.length === totalBytes')
  t.alike(plain(done), plain(envelope), 'the joined pieces decode to the envelope')
  t.is(d.pendingFrameBytes, 0)
})

// --- a reader from the document ----------------------------------------------------------------

class SpecReader {
  constructor(bytes) {
    this.bytes = bytes
    this.at = 0
  }

  byte() {
    if (this.at >= this.bytes.byteLength) throw new Error('past the end')
    return this.bytes[this.at++]
  }

  uint32le() {
    let n = 0
    for (let i = 0; i < 4; i++) n += this.byte() * 2 ** (8 * i)
    return n
  }

  // compact-encoding uint: below 0xfd one byte, else a marker and a little-endian 2, 4 or 8 bytes.
  uint() {
    const first = this.byte()
    if (first < 0xfd) return first
    const width = first === 0xfd ? 2 : first === 0xfe ? 4 : 8
    let n = 0
    for (let i = 0; i < width; i++) n += this.byte() * 2 ** (8 * i)
    return n
  }

  float64() {
    const b = new Uint8Array(8)
    for (let i = 0; i < 8; i++) b[i] = this.byte()
    return new DataView(b.buffer).getFloat64(0, true)
  }

  bytesField() {
    const n = this.uint()
    if (this.at + n > this.bytes.byteLength) throw new Error('past the end')
    const b = this.bytes.slice(this.at, this.at + n)
    this.at += n
    return b
  }

  string() {
    return b4a.toString(this.bytesField(), 'utf8')
  }

  list(entry) {
    const n = this.uint()
    const out = []
    for (let i = 0; i < n; i++) out.push(entry())
    return out
  }

  status() {
    return STATUSES[this.byte()]
  }

  message() {
    const kind = KINDS[this.byte()]
    switch (kind) {
      case 'hello': {
        const minVersion = this.uint()
        const maxVersion = this.uint()
        return { kind, minVersion, maxVersion, ...this.handshake() }
      }
      case 'hello-ack': {
        const version = this.uint()
        return { kind, version, ...this.handshake() }
      }
      case 'auth':
        return { kind, proof: this.bytesField() }
      case 'heartbeat':
      case 'heartbeat-ack': {
        const seq = this.uint()
        return { kind, seq, sentAt: this.float64() }
      }
      case 'gossip': {
        const flags = this.byte()
        const summary = flags & 2 ? this.bytesField() : null
        const digest = this.list(() => this.entry())
        const deltas = this.list(() => {
          const e = this.entry()
          const roles = this.list(() => this.string())
          const unreachable = this.list(() => ({ address: this.string(), version: this.uint() }))
          const key = this.bytesField()
          const signature = this.bytesField()
          const has = this.byte()
          const vouch = has & 1 ? { by: this.string(), signature: this.bytesField() } : null
          const decision = has & 2 ? { status: this.status(), by: this.string(), signature: this.bytesField() } : null
          return { ...e, roles, unreachable, key, signature, vouch, decision }
        })
        return { kind, digest, deltas, reply: (flags & 1) !== 0, summary }
      }
      case 'envelope': {
        const flags = this.byte()
        const to = this.string()
        const from = flags & 1 ? this.string() : null
        const manifest = this.string()
        const correlationId = flags & 2 ? this.uint() : null
        return { kind, to, from, manifest, body: this.bytesField(), correlationId }
      }
      case 'subsystem': {
        const channel = this.string()
        return { kind, channel, body: this.bytesField() }
      }
      case 'leave':
        return { kind, address: this.string() }
      case 'goodbye':
        return { kind, reason: this.string() }
      case 'chunk': {
        const id = this.uint()
        const offset = this.uint()
        const totalBytes = this.uint()
        return { kind, id, offset, totalBytes, data: this.bytesField() }
      }
      case 'ack':
        return { kind, delivered: this.uint() }
      case 'resume':
        return { kind, next: this.uint() }
      default:
        throw new Error('kind byte not in the document')
    }
  }

  handshake() {
    const cluster = this.string()
    const from = this.string()
    const incarnation = this.uint()
    const maxFrameBytes = this.uint()
    const features = this.uint()
    const nonce = this.bytesField()
    const flags = this.byte()
    const proof = flags & 1 ? this.bytesField() : null
    // Since version 3; a hello that ends before them means 0 and 0.
    const ackIncarnation = this.at < this.bytes.byteLength ? this.uint() : 0
    const ack = this.at < this.bytes.byteLength ? this.uint() : 0
    return { cluster, from, incarnation, maxFrameBytes, features, nonce, proof, ackIncarnation, ack }
  }

  entry() {
    const address = this.string()
    const incarnation = this.uint()
    const version = this.uint()
    return { address, incarnation, version, status: this.status() }
  }
}
