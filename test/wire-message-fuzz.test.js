// Seeded fuzzing one level below the frames: mutated message bytes go straight to decodeMessage,
// so the field decoders see the damage instead of the length check in front of them. Whatever
// decodes must have the documented shape, and must encode again (or be refused with BAD_FRAME)
// to a message that decodes the same.
//   <runtime> test/wire-message-fuzz.test.js [cases=3000] [seed]
import test from 'brittle'
import { encodeMessage, decodeMessage, ClusterError } from 'actor-cluster-bare'
import { samples, plain } from './helpers/wire-samples.js'
import { args } from './helpers/proc.js'
import { insertBytes, mulberry32, randomBytes } from './helpers/random.js'

// Numbers only: when this file is imported by test/all.js, arguments meant for others are ignored.
const [CASES = 3000, SEED = 20261124] = args().map(Number).filter((n) => Number.isSafeInteger(n) && n > 0)
const DECODE_CODES = new Set(['BAD_FRAME', 'UNKNOWN_KIND'])
const STATUSES = new Set(['joining', 'up', 'leaving', 'down', 'removed'])

test(`message fuzz: ${CASES} mutated messages decode, re-encode and decode again, or fail cleanly`, (t) => {
  const random = mulberry32(SEED)
  const originals = samples().map(([, m]) => encodeMessage(m))
  const tally = { decoded: 0, refused: {}, reencodeRefused: 0, shapeErrors: 0, roundTripErrors: 0 }
  let failure = null

  for (let i = 0; i < CASES && failure === null; i++) {
    const input = mutate(random, originals[Math.floor(random() * originals.length)])
    let msg
    try {
      msg = decodeMessage(input)
    } catch (err) {
      if (!(err instanceof ClusterError) || !DECODE_CODES.has(err.code)) failure = describe(i, input, err)
      else tally.refused[err.code] = (tally.refused[err.code] ?? 0) + 1
      continue
    }
    tally.decoded++
    const shape = shapeError(msg)
    if (shape !== null) {
      tally.shapeErrors++
      failure = describe(i, input, new Error(shape))
      continue
    }
    let again
    try {
      again = encodeMessage(msg)
    } catch (err) {
      // A decoded string can grow when re-encoded (each invalid UTF-8 byte becomes U+FFFD, three
      // bytes) and pass its cap; that is refused, cleanly.
      if (!(err instanceof ClusterError) || err.code !== 'BAD_FRAME') failure = describe(i, input, err)
      else tally.reencodeRefused++
      continue
    }
    if (canonical(plain(decodeMessage(again))) !== canonical(plain(msg))) {
      tally.roundTripErrors++
      failure = describe(i, input, new Error('re-encoded message decodes differently'))
    }
  }

  t.is(failure, null, failure ?? 'only ClusterErrors, every decoded message well formed')
  t.ok(tally.decoded > 0 && Object.keys(tally.refused).length > 0, 'both outcomes were reached')
  t.comment(JSON.stringify(tally))
})

test('bytes appended after the known fields change nothing, for every kind', (t) => {
  const random = mulberry32(SEED + 1)
  for (const [name, msg] of samples()) {
    const tail = new Uint8Array(1 + Math.floor(random() * 40))
    for (let i = 0; i < tail.byteLength; i++) tail[i] = Math.floor(random() * 256)
    const bytes = encodeMessage(msg)
    const longer = new Uint8Array(bytes.byteLength + tail.byteLength)
    longer.set(bytes, 0)
    longer.set(tail, bytes.byteLength)
    t.alike(plain(decodeMessage(longer)), plain(msg), name)
  }
})

// --- helpers -----------------------------------------------------------------------------------

function mutate(random, original) {
  // A copy: on Node the encoded message is a Buffer, whose slice() is a view.
  let b = new Uint8Array(original)
  const edits = 1 + Math.floor(random() * 3)
  for (let e = 0; e < edits && b.byteLength > 0; e++) {
    // Never the kind byte: keep the damage inside a codec.
    const at = 1 + Math.floor(random() * Math.max(1, b.byteLength - 1))
    switch (Math.floor(random() * 6)) {
      case 0:
        if (at < b.byteLength) b[at] ^= 1 << Math.floor(random() * 8)
        break
      case 1:
        if (at < b.byteLength) b[at] = Math.floor(random() * 256)
        break
      case 2:
        b = b.subarray(0, at)
        break
      case 3: {
        b = insertBytes(b, at, randomBytes(random, 1 + Math.floor(random() * 6)))
        break
      }
      case 4:
        // A length or count turned into a wide one: a varint marker, or a value at a cap's edge.
        if (at < b.byteLength) b[at] = [0xfc, 0xfd, 0xfe, 0xff, 0x00, 0x40][Math.floor(random() * 6)]
        break
      default: {
        // Bytes that are not UTF-8 where a string may be.
        if (at < b.byteLength) b[at] = [0x80, 0xc0, 0xed, 0xf4, 0xff][Math.floor(random() * 5)]
      }
    }
  }
  return b
}

function shapeError(m) {
  const uint = (n) => Number.isSafeInteger(n) && n >= 0
  const str = (s) => typeof s === 'string'
  const bytes = (b) => b instanceof Uint8Array
  const strs = (l) => Array.isArray(l) && l.every(str)
  const entry = (e) => str(e.address) && uint(e.incarnation) && uint(e.version) && STATUSES.has(e.status)
  let ok
  switch (m.kind) {
    case 'hello':
    case 'hello-ack':
      ok =
        (m.kind === 'hello' ? uint(m.minVersion) && uint(m.maxVersion) : uint(m.version)) &&
        str(m.cluster) &&
        str(m.from) &&
        uint(m.incarnation) &&
        uint(m.maxFrameBytes) &&
        uint(m.features) &&
        bytes(m.nonce) &&
        (m.proof === null || bytes(m.proof)) &&
        uint(m.ackIncarnation) &&
        uint(m.ack)
      break
    case 'auth':
      ok = bytes(m.proof)
      break
    case 'heartbeat':
    case 'heartbeat-ack':
      ok = uint(m.seq) && typeof m.sentAt === 'number'
      break
    case 'gossip':
      ok =
        typeof m.reply === 'boolean' &&
        (m.summary === null || (bytes(m.summary) && m.summary.byteLength === 16)) &&
        Array.isArray(m.digest) &&
        m.digest.every(entry) &&
        Array.isArray(m.deltas) &&
        m.deltas.every(
          (d) =>
            entry(d) &&
            strs(d.roles) &&
            Array.isArray(d.unreachable) &&
            d.unreachable.every((o) => str(o.address) && uint(o.version)) &&
            bytes(d.key) &&
            d.key.byteLength === 32 &&
            bytes(d.signature) &&
            d.signature.byteLength === 64 &&
            (d.vouch === null || (str(d.vouch.by) && bytes(d.vouch.signature) && d.vouch.signature.byteLength === 64)) &&
            (d.decision === null || (STATUSES.has(d.decision.status) && str(d.decision.by) && bytes(d.decision.signature) && d.decision.signature.byteLength === 64))
        )
      break
    case 'envelope':
      ok =
        str(m.to) &&
        (m.from === null || str(m.from)) &&
        str(m.manifest) &&
        bytes(m.body) &&
        (m.correlationId === null || uint(m.correlationId))
      break
    case 'subsystem':
      ok = str(m.channel) && bytes(m.body)
      break
    case 'leave':
      ok = str(m.address)
      break
    case 'goodbye':
      ok = str(m.reason)
      break
    case 'chunk':
      ok = uint(m.id) && uint(m.offset) && uint(m.totalBytes) && bytes(m.data)
      break
    case 'ack':
      ok = uint(m.delivered)
      break
    case 'resume':
      ok = uint(m.next)
      break
    default:
      ok = false
  }
  return ok ? null : `decoded a malformed ${String(m.kind)} message`
}

function describe(i, input, err) {
  let hex = ''
  for (const x of input) hex += x.toString(16).padStart(2, '0')
  return `case ${i} (seed ${SEED}) input ${hex}: ${err && err.stack ? err.stack : String(err)}`
}

// Sorted keys; NaN and -0 spelled out so that they compare as themselves.
function canonical(v) {
  return JSON.stringify(v, (k, x) => {
    if (typeof x === 'number' && (Number.isNaN(x) || Object.is(x, -0))) return String(x) + '!'
    if (x && typeof x === 'object' && !Array.isArray(x)) {
      return Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
    }
    return x
  })
}
