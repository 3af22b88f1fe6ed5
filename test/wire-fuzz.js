// Seeded fuzzing of the frame decoder: random bytes and mutated valid frames. Only ClusterErrors
// may come out, and the decoder's memory stays within what was pushed (and the frame cap).
//   npm run fuzz   (100,000 cases; test/fuzz.js takes a count and a seed)
import { FrameDecoder, encodeFrame, ClusterError } from 'actor-cluster-bare'
import { samples } from './helpers/wire-samples.js'
import { insertBytes, mulberry32, randomBytes } from './helpers/random.js'

const MAX_FRAME = 64 * 1024

export function fuzz(count, seed = 1) {
  const random = mulberry32(seed)
  const valid = samples().map(([, m]) => encodeFrame(m)).filter((f) => f.byteLength <= MAX_FRAME)
  const stats = { cases: 0, messages: 0, errors: {}, maxBuffered: 0 }
  for (let i = 0; i < count; i++) {
    const input = i % 4 === 0 ? randomBytes(random, 1 + Math.floor(random() * 512)) : mutate(random, valid)
    const d = new FrameDecoder({ maxFrameBytes: MAX_FRAME })
    let pushed = 0
    try {
      // Feed in random slices, as a socket would.
      for (let o = 0; o < input.byteLength; ) {
        const n = 1 + Math.floor(random() * 64)
        const part = input.subarray(o, o + n)
        o += n
        pushed += part.byteLength
        stats.messages += d.push(part).length
        if (d.bufferedBytes > Math.max(2 * pushed + 4096 + 4, 8)) throw new Error(`decoder holds ${d.bufferedBytes} after ${pushed} bytes`)
        stats.maxBuffered = Math.max(stats.maxBuffered, d.bufferedBytes)
      }
    } catch (err) {
      if (!(err instanceof ClusterError)) throw new Error(`case ${i} (seed ${seed}): ${err && err.stack}`)
      stats.errors[err.code] = (stats.errors[err.code] ?? 0) + 1
    }
    stats.cases++
  }
  return stats
}

function mutate(random, valid) {
  const parts = []
  const n = 1 + Math.floor(random() * 4)
  for (let i = 0; i < n; i++) parts.push(valid[Math.floor(random() * valid.length)])
  let b = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0))
  let o = 0
  for (const p of parts) {
    b.set(p, o)
    o += p.byteLength
  }
  const edits = 1 + Math.floor(random() * 4)
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * b.byteLength)
    switch (Math.floor(random() * 5)) {
      case 0: // bit flip
        b[at] ^= 1 << Math.floor(random() * 8)
        break
      case 1: // random byte
        b[at] = Math.floor(random() * 256)
        break
      case 2: // truncate
        b = b.subarray(0, at)
        break
      case 3: { // insert junk
        b = insertBytes(b, at, randomBytes(random, 1 + Math.floor(random() * 8)))
        break
      }
      default: { // rewrite a length prefix or varint-looking byte with an extreme value
        const v = [0, 0xfc, 0xfd, 0xfe, 0xff][Math.floor(random() * 5)]
        b[at] = v
      }
    }
    if (b.byteLength === 0) break
  }
  return b
}
