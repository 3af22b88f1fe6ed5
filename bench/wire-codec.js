// Encode + decode throughput of small envelopes on one core, in one process: batches of 1,000
// encoded into one buffer and decoded by a FrameDecoder, beside a baseline that writes a 4-byte
// prefix and a raw 68-byte payload and walks the prefixes back. Prints messages per second and
// the ratio. Runs on Bare, Node, Bun and Deno:  <runtime> bench/wire-codec.js [ms]
import b4a from 'b4a'
import { FrameDecoder, messageSize, encodeFrameInto, detectRuntime } from 'actor-cluster-bare'
import { args } from '../test/helpers/proc.js'

const [msArg = '2000'] = args()
const MS = Number(msArg)
const BATCH = 1000
const envelope = { kind: 'envelope', to: 'user/sink', from: null, manifest: 'bench', body: b4a.alloc(64, 1), correlationId: null }

function codec() {
  const sizes = new Array(BATCH)
  let total = 0
  for (let i = 0; i < BATCH; i++) {
    sizes[i] = messageSize(envelope)
    total += sizes[i] + 4
  }
  const state = { start: 0, end: total, buffer: b4a.allocUnsafe(total) }
  for (let i = 0; i < BATCH; i++) encodeFrameInto(state, envelope, sizes[i])
  return new FrameDecoder().push(state.buffer).length
}

function raw() {
  const payload = 68
  const buffer = b4a.allocUnsafe(BATCH * (4 + payload))
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength)
  for (let i = 0, o = 0; i < BATCH; i++, o += 4 + payload) {
    view.setUint32(o, payload, true)
    buffer.fill(1, o + 4, o + 4 + payload)
  }
  let n = 0
  for (let o = 0; o + 4 <= buffer.byteLength; n++) o += 4 + view.getUint32(o, true)
  return n
}

function rate(fn) {
  for (let i = 0; i < 200; i++) fn() // warm up
  let n = 0
  const start = Date.now()
  while (Date.now() - start < MS) n += fn()
  return (n / (Date.now() - start)) * 1000
}

const base = rate(raw)
const ours = rate(codec)
const fmt = (x) => (x / 1e6).toFixed(2) + 'M/s'
console.log(`${detectRuntime()}: envelope encode+decode ${fmt(ours)}, raw prefix baseline ${fmt(base)}, ratio ${(ours / base).toFixed(2)}`)
