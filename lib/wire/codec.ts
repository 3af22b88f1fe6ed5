// compact-encoding codecs for every message kind, and the frame functions built on them.
// A message is its kind byte followed by its fields; a frame is a 4-byte little-endian length
// then one message. Decoding treats input as hostile: every length is capped and checked
// against the bytes really there, and every failure is a ClusterError.

import b4a from 'b4a'
import c from 'compact-encoding'
import { ClusterError } from '../errors.ts'
import {
  FIRST_EXTENSION_KIND,
  FRAME_HEADER_BYTES,
  KIND_CODES,
  LIMITS,
  MEMBER_STATUSES,
  MIN_WIRE_VERSION,
  WIRE_VERSION,
  type Endorsement,
  type GossipDelta,
  type GossipDigestEntry,
  type Observation,
  type StatusDecision,
  type MemberStatus,
  type WireKind,
  type WireMessage
} from './messages.ts'
import {
  preUint,
  encUint,
  decUint,
  preString,
  encString,
  decString,
  preBytes,
  encBytes,
  decBytes,
  decByte,
  preFloat,
  encFloat,
  decFloat,
  decCount,
  NO_BYTES,
  type Codec,
  type State
} from './primitives.ts'

export type { State } from './primitives.ts'

type Of<K extends WireKind> = Extract<WireMessage, { kind: K }>

// --- handshake -------------------------------------------------------------------------------

const HAS_PROOF = 1

interface HandshakeFields {
  cluster: string
  from: string
  incarnation: number
  maxFrameBytes: number
  features: number
  nonce: Uint8Array
  proof: Uint8Array | null
  ackIncarnation?: number
  ack?: number
}

function preHandshake(state: State, m: HandshakeFields): void {
  preString(state, m.cluster, LIMITS.cluster, 'cluster')
  preString(state, m.from, LIMITS.address, 'from')
  preUint(state, m.incarnation)
  preUint(state, m.maxFrameBytes)
  preUint(state, m.features)
  preBytes(state, m.nonce, LIMITS.nonce, 'nonce')
  state.end++
  if (m.proof !== null) preBytes(state, m.proof, LIMITS.proof, 'proof')
  preUint(state, m.ackIncarnation ?? 0)
  preUint(state, m.ack ?? 0)
}

function encHandshake(state: State, m: HandshakeFields): void {
  encString(state, m.cluster)
  encString(state, m.from)
  encUint(state, m.incarnation)
  encUint(state, m.maxFrameBytes)
  encUint(state, m.features)
  encBytes(state, m.nonce)
  state.buffer[state.start++] = m.proof === null ? 0 : HAS_PROOF
  if (m.proof !== null) encBytes(state, m.proof)
  encUint(state, m.ackIncarnation ?? 0)
  encUint(state, m.ack ?? 0)
}

function decHandshake(state: State): HandshakeFields {
  const cluster = decString(state, LIMITS.cluster, 'cluster')
  const from = decString(state, LIMITS.address, 'from')
  const incarnation = decUint(state)
  const maxFrameBytes = decUint(state)
  const features = decUint(state)
  const nonce = decBytes(state, LIMITS.nonce, 'nonce')
  const flags = decByte(state)
  const proof = flags & HAS_PROOF ? decBytes(state, LIMITS.proof, 'proof') : null
  // Appended in version 3: a hello that ends before them acknowledges nothing.
  const ackIncarnation = state.start < state.end ? decUint(state) : 0
  const ack = state.start < state.end ? decUint(state) : 0
  return { cluster, from, incarnation, maxFrameBytes, features, nonce, proof, ackIncarnation, ack }
}

const hello: Codec<Of<'hello'>> = {
  preencode(state, m) {
    preUint(state, m.minVersion)
    preUint(state, m.maxVersion)
    preHandshake(state, m)
  },
  encode(state, m) {
    encUint(state, m.minVersion)
    encUint(state, m.maxVersion)
    encHandshake(state, m)
  },
  decode(state) {
    const minVersion = decUint(state)
    const maxVersion = decUint(state)
    return { kind: 'hello', minVersion, maxVersion, ...decHandshake(state) }
  }
}

const helloAck: Codec<Of<'hello-ack'>> = {
  preencode(state, m) {
    preUint(state, m.version)
    preHandshake(state, m)
  },
  encode(state, m) {
    encUint(state, m.version)
    encHandshake(state, m)
  },
  decode(state) {
    const version = decUint(state)
    return { kind: 'hello-ack', version, ...decHandshake(state) }
  }
}

const auth: Codec<Of<'auth'>> = {
  preencode(state, m) {
    preBytes(state, m.proof, LIMITS.proof, 'proof')
  },
  encode(state, m) {
    encBytes(state, m.proof)
  },
  decode(state) {
    return { kind: 'auth', proof: decBytes(state, LIMITS.proof, 'proof') }
  }
}

// --- heartbeats ------------------------------------------------------------------------------

function heartbeatCodec<K extends 'heartbeat' | 'heartbeat-ack'>(kind: K): Codec<{ kind: K; seq: number; sentAt: number }> {
  return {
    preencode(state, m) {
      preUint(state, m.seq)
      preFloat(state, m.sentAt)
    },
    encode(state, m) {
      encUint(state, m.seq)
      encFloat(state, m.sentAt)
    },
    decode(state) {
      const seq = decUint(state)
      const sentAt = decFloat(state)
      return { kind, seq, sentAt }
    }
  }
}

// --- gossip ----------------------------------------------------------------------------------

const IS_REPLY = 1
const HAS_SUMMARY = 2

function preDigestEntry(state: State, e: GossipDigestEntry): void {
  preString(state, e.address, LIMITS.address, 'address')
  preUint(state, e.incarnation)
  preUint(state, e.version)
  statusCode(e.status)
  state.end++
}

function encDigestEntry(state: State, e: GossipDigestEntry): void {
  encString(state, e.address)
  encUint(state, e.incarnation)
  encUint(state, e.version)
  state.buffer[state.start++] = statusCode(e.status)
}

function decDigestEntry(state: State): GossipDigestEntry {
  const address = decString(state, LIMITS.address, 'address')
  const incarnation = decUint(state)
  const version = decUint(state)
  const status = decStatus(state)
  return { address, incarnation, version, status }
}

function decStatus(state: State): MemberStatus {
  const code = decByte(state)
  const status = MEMBER_STATUSES[code]
  if (status === undefined) throw ClusterError.BAD_FRAME(`unknown member status ${code}`)
  return status
}

function preStringList(state: State, list: string[], maxEntries: number, maxBytes: number, what: string): void {
  if (!Array.isArray(list)) throw ClusterError.BAD_FRAME(`${what} must be an array`)
  if (list.length > maxEntries) throw ClusterError.BAD_FRAME(`${list.length} ${what}, more than ${maxEntries}`)
  c.uint.preencode(state, list.length)
  for (const s of list) preString(state, s, maxBytes, what)
}

function encStringList(state: State, list: string[]): void {
  c.uint.encode(state, list.length)
  for (const s of list) encString(state, s)
}

function decStringList(state: State, maxEntries: number, maxBytes: number, what: string): string[] {
  const n = decCount(state, maxEntries, what)
  const out = new Array<string>(n)
  for (let i = 0; i < n; i++) out[i] = decString(state, maxBytes, what)
  return out
}

function statusCode(s: MemberStatus): number {
  const i = MEMBER_STATUSES.indexOf(s)
  if (i === -1) throw ClusterError.BAD_FRAME(`unknown member status ${String(s)}`)
  return i
}

const HAS_VOUCH = 1
const HAS_DECISION = 2

function preObservations(state: State, list: Observation[]): void {
  if (!Array.isArray(list)) throw ClusterError.BAD_FRAME('unreachable must be an array')
  if (list.length > LIMITS.observations) throw ClusterError.BAD_FRAME(`${list.length} observations, more than ${LIMITS.observations}`)
  c.uint.preencode(state, list.length)
  for (const o of list) {
    preString(state, o.address, LIMITS.address, 'address')
    preUint(state, o.version)
  }
}

function encObservations(state: State, list: Observation[]): void {
  c.uint.encode(state, list.length)
  for (const o of list) {
    encString(state, o.address)
    encUint(state, o.version)
  }
}

function decObservations(state: State): Observation[] {
  const n = decCount(state, LIMITS.observations, 'observations')
  const out = new Array<Observation>(n)
  for (let i = 0; i < n; i++) {
    const address = decString(state, LIMITS.address, 'address')
    out[i] = { address, version: decUint(state) }
  }
  return out
}

function preFixed(state: State, b: Uint8Array, size: number, what: string): void {
  if (!(b instanceof Uint8Array) || b.byteLength !== size) throw ClusterError.BAD_FRAME(`${what} must be ${size} bytes`)
  preBytes(state, b, size, what)
}

function decFixed(state: State, size: number, what: string): Uint8Array {
  const b = decBytes(state, size, what)
  if (b.byteLength !== size) throw ClusterError.BAD_FRAME(`${what} of ${b.byteLength} bytes, not ${size}`)
  return b
}

function preEndorsement(state: State, e: Endorsement): void {
  preString(state, e.by, LIMITS.address, 'address')
  preFixed(state, e.signature, LIMITS.signature, 'signature')
}

function encEndorsement(state: State, e: Endorsement): void {
  encString(state, e.by)
  encBytes(state, e.signature)
}

function decEndorsement(state: State): Endorsement {
  const by = decString(state, LIMITS.address, 'address')
  return { by, signature: decFixed(state, LIMITS.signature, 'signature') }
}

function preDelta(state: State, d: GossipDelta): void {
  preDigestEntry(state, d)
  preStringList(state, d.roles, LIMITS.roles, LIMITS.role, 'roles')
  preObservations(state, d.unreachable)
  preFixed(state, d.key, LIMITS.key, 'key')
  preFixed(state, d.signature, LIMITS.signature, 'signature')
  state.end++
  if (d.vouch !== null) preEndorsement(state, d.vouch)
  if (d.decision !== null) {
    statusCode(d.decision.status)
    state.end++
    preEndorsement(state, d.decision)
  }
}

function encDelta(state: State, d: GossipDelta): void {
  encDigestEntry(state, d)
  encStringList(state, d.roles)
  encObservations(state, d.unreachable)
  encBytes(state, d.key)
  encBytes(state, d.signature)
  state.buffer[state.start++] = (d.vouch === null ? 0 : HAS_VOUCH) | (d.decision === null ? 0 : HAS_DECISION)
  if (d.vouch !== null) encEndorsement(state, d.vouch)
  if (d.decision !== null) {
    state.buffer[state.start++] = statusCode(d.decision.status)
    encEndorsement(state, d.decision)
  }
}

function decDelta(state: State): GossipDelta {
  const { address, incarnation, version, status } = decDigestEntry(state)
  const roles = decStringList(state, LIMITS.roles, LIMITS.role, 'roles')
  const unreachable = decObservations(state)
  const key = decFixed(state, LIMITS.key, 'key')
  const signature = decFixed(state, LIMITS.signature, 'signature')
  const flags = decByte(state)
  const vouch = flags & HAS_VOUCH ? decEndorsement(state) : null
  let decision: StatusDecision | null = null
  if (flags & HAS_DECISION) {
    const decided = decStatus(state)
    decision = { status: decided, ...decEndorsement(state) }
  }
  return { address, incarnation, version, status, roles, unreachable, key, signature, vouch, decision }
}

const gossip: Codec<Of<'gossip'>> = {
  preencode(state, m) {
    state.end++
    if (m.summary !== null) preFixed(state, m.summary, LIMITS.summary, 'summary')
    if (m.digest.length > LIMITS.entries || m.deltas.length > LIMITS.entries) {
      throw ClusterError.BAD_FRAME(`gossip of more than ${LIMITS.entries} entries`)
    }
    c.uint.preencode(state, m.digest.length)
    for (const e of m.digest) preDigestEntry(state, e)
    c.uint.preencode(state, m.deltas.length)
    for (const d of m.deltas) preDelta(state, d)
  },
  encode(state, m) {
    state.buffer[state.start++] = (m.reply ? IS_REPLY : 0) | (m.summary === null ? 0 : HAS_SUMMARY)
    if (m.summary !== null) encBytes(state, m.summary)
    c.uint.encode(state, m.digest.length)
    for (const e of m.digest) encDigestEntry(state, e)
    c.uint.encode(state, m.deltas.length)
    for (const d of m.deltas) encDelta(state, d)
  },
  decode(state) {
    const flags = decByte(state)
    const summary = flags & HAS_SUMMARY ? decFixed(state, LIMITS.summary, 'summary') : null
    const nd = decCount(state, LIMITS.entries, 'digest entries')
    const digest = new Array<GossipDigestEntry>(nd)
    for (let i = 0; i < nd; i++) digest[i] = decDigestEntry(state)
    const nx = decCount(state, LIMITS.entries, 'deltas')
    const deltas = new Array<GossipDelta>(nx)
    for (let i = 0; i < nx; i++) deltas[i] = decDelta(state)
    return { kind: 'gossip', digest, deltas, reply: (flags & IS_REPLY) !== 0, summary }
  }
}

// --- envelopes and the rest ------------------------------------------------------------------

const HAS_FROM = 1
const HAS_CORRELATION = 2
// Bodies are capped by the frame size the decoder enforces, not here.
const ANY_LENGTH = Number.MAX_SAFE_INTEGER

// An envelope's fields before its body (flags, to, from, manifest, correlation id) are mostly the
// same as the last envelope's: one recipient, one sender, one kind of message. The head last
// encoded is kept as bytes, so the next envelope with the same strings copies them in one go, and
// the head last decoded likewise, so the next envelope starting with the same bytes reuses its
// strings (bytes that start the same way decode the same way, to the end of those bytes). Both
// live in fixed buffers, and a head replaces the kept one only after two misses in a row, so
// envelopes alternating between two recipients keep hitting on one and pay nothing on the other.
const HEAD_CACHE_BYTES = 512

interface Head {
  bytes: Uint8Array
  /** 0: nothing kept. */
  length: number
  /** Misses since the last hit or replacement. */
  misses: number
  to: string
  from: string | null
  manifest: string
  correlationId: number | null
}

const encodedHead = newHead()
const decodedHead = newHead()

function newHead(): Head {
  return { bytes: new Uint8Array(HEAD_CACHE_BYTES), length: 0, misses: 0, to: '', from: null, manifest: '', correlationId: null }
}

// After a miss: keeps buffer[start..end) and the fields it encodes in `head` if this is the second
// miss in a row and it fits.
function missHead(head: Head, buffer: Uint8Array, start: number, end: number, to: string, from: string | null, manifest: string, correlationId: number | null): void {
  if (++head.misses < 2 && head.length > 0) return
  const n = end - start
  head.misses = 0
  if (n > HEAD_CACHE_BYTES) {
    head.length = 0
    return
  }
  for (let i = 0; i < n; i++) head.bytes[i] = buffer[start + i]!
  head.length = n
  head.to = to
  head.from = from
  head.manifest = manifest
  head.correlationId = correlationId
}

// The length of the kept encoded head if `m` starts with it, else 0.
function knownHead(m: Of<'envelope'>): number {
  const h = encodedHead
  return m.to === h.to && m.from === h.from && m.manifest === h.manifest && m.correlationId == null ? h.length : 0
}

// Whether the bytes at state.start begin with the kept decoded head.
function startsWithDecodedHead(state: State): boolean {
  const n = decodedHead.length
  if (n === 0 || state.end - state.start < n) return false
  const b = state.buffer
  const at = state.start
  const kept = decodedHead.bytes
  for (let i = 0; i < n; i++) if (b[at + i] !== kept[i]) return false
  return true
}

function preHead(state: State, m: Of<'envelope'>): void {
  state.end++
  preString(state, m.to, LIMITS.path, 'to')
  if (m.from !== null) preString(state, m.from, LIMITS.path, 'from')
  preString(state, m.manifest, LIMITS.manifest, 'manifest')
  if (m.correlationId != null) preUint(state, m.correlationId)
}

function encHead(state: State, m: Of<'envelope'>): void {
  const start = state.start
  state.buffer[state.start++] = (m.from === null ? 0 : HAS_FROM) | (m.correlationId == null ? 0 : HAS_CORRELATION)
  encString(state, m.to)
  if (m.from !== null) encString(state, m.from)
  encString(state, m.manifest)
  if (m.correlationId != null) encUint(state, m.correlationId)
  else missHead(encodedHead, state.buffer, start, state.start, m.to, m.from, m.manifest, null)
}

const envelope: Codec<Of<'envelope'>> = {
  preencode(state, m) {
    const known = knownHead(m)
    if (known > 0) state.end += known
    else preHead(state, m)
    preBytes(state, m.body, ANY_LENGTH, 'body')
  },
  encode(state, m) {
    const known = knownHead(m)
    if (known > 0) {
      encodedHead.misses = 0
      const b = state.buffer
      const kept = encodedHead.bytes
      for (let i = 0; i < known; i++) b[state.start + i] = kept[i]!
      state.start += known
    } else {
      encHead(state, m)
    }
    encBytes(state, m.body)
  },
  decode(state) {
    if (startsWithDecodedHead(state)) {
      const h = decodedHead
      h.misses = 0
      state.start += h.length
      const body = decBytes(state, ANY_LENGTH, 'body')
      return { kind: 'envelope', to: h.to, from: h.from, manifest: h.manifest, body, correlationId: h.correlationId }
    }
    const start = state.start
    const flags = decByte(state)
    const to = decString(state, LIMITS.path, 'to')
    const from = flags & HAS_FROM ? decString(state, LIMITS.path, 'from') : null
    const manifest = decString(state, LIMITS.manifest, 'manifest')
    const correlationId = flags & HAS_CORRELATION ? decUint(state) : null
    missHead(decodedHead, state.buffer, start, state.start, to, from, manifest, correlationId)
    const body = decBytes(state, ANY_LENGTH, 'body')
    return { kind: 'envelope', to, from, manifest, body, correlationId }
  }
}

const subsystem: Codec<Of<'subsystem'>> = {
  preencode(state, m) {
    preString(state, m.channel, LIMITS.channel, 'channel')
    preBytes(state, m.body, ANY_LENGTH, 'body')
  },
  encode(state, m) {
    encString(state, m.channel)
    encBytes(state, m.body)
  },
  decode(state) {
    const channel = decString(state, LIMITS.channel, 'channel')
    const body = decBytes(state, ANY_LENGTH, 'body')
    return { kind: 'subsystem', channel, body }
  }
}

const leave: Codec<Of<'leave'>> = {
  preencode(state, m) {
    preString(state, m.address, LIMITS.address, 'address')
  },
  encode(state, m) {
    encString(state, m.address)
  },
  decode(state) {
    return { kind: 'leave', address: decString(state, LIMITS.address, 'address') }
  }
}

const goodbye: Codec<Of<'goodbye'>> = {
  preencode(state, m) {
    preString(state, m.reason, LIMITS.reason, 'reason')
  },
  encode(state, m) {
    encString(state, m.reason)
  },
  decode(state) {
    return { kind: 'goodbye', reason: decString(state, LIMITS.reason, 'reason') }
  }
}

const chunk: Codec<Of<'chunk'>> = {
  preencode(state, m) {
    preUint(state, m.id)
    preUint(state, m.offset)
    preUint(state, m.totalBytes)
    preBytes(state, m.data, ANY_LENGTH, 'data')
  },
  encode(state, m) {
    encUint(state, m.id)
    encUint(state, m.offset)
    encUint(state, m.totalBytes)
    encBytes(state, m.data)
  },
  decode(state) {
    const id = decUint(state)
    const offset = decUint(state)
    const totalBytes = decUint(state)
    const data = decBytes(state, ANY_LENGTH, 'data')
    return { kind: 'chunk', id, offset, totalBytes, data }
  }
}

const ackCodec: Codec<Of<'ack'>> = {
  preencode(state, m) {
    preUint(state, m.delivered)
  },
  encode(state, m) {
    encUint(state, m.delivered)
  },
  decode(state) {
    return { kind: 'ack', delivered: decUint(state) }
  }
}

const resumeCodec: Codec<Of<'resume'>> = {
  preencode(state, m) {
    preUint(state, m.next)
  },
  encode(state, m) {
    encUint(state, m.next)
  },
  decode(state) {
    return { kind: 'resume', next: decUint(state) }
  }
}

const CODECS: { [K in WireKind]: Codec<Of<K>> } = {
  hello,
  'hello-ack': helloAck,
  auth,
  heartbeat: heartbeatCodec('heartbeat'),
  'heartbeat-ack': heartbeatCodec('heartbeat-ack'),
  gossip,
  envelope,
  subsystem,
  leave,
  goodbye,
  chunk,
  ack: ackCodec,
  resume: resumeCodec
}

const BY_CODE: (Codec<WireMessage> | undefined)[] = []
for (const [kind, code] of Object.entries(KIND_CODES)) BY_CODE[code] = CODECS[kind as WireKind] as Codec<WireMessage>

// --- messages and frames ---------------------------------------------------------------------

function codecOf(msg: WireMessage): Codec<WireMessage> {
  const codec = msg !== null && typeof msg === 'object' ? (CODECS as Record<string, Codec<WireMessage> | undefined>)[msg.kind] : undefined
  if (codec === undefined) throw ClusterError.UNKNOWN_KIND(`cannot encode kind ${String((msg as { kind?: unknown })?.kind)}`)
  return codec
}

/** Encoded size of a message, without the frame header. */
export function messageSize(msg: WireMessage): number {
  const state = { start: 0, end: 1, buffer: NO_BYTES }
  codecOf(msg).preencode(state, msg)
  return state.end
}

export function encodeMessage(msg: WireMessage): Uint8Array {
  const codec = codecOf(msg)
  const state: State = { start: 0, end: 1, buffer: NO_BYTES }
  codec.preencode(state, msg)
  state.buffer = b4a.allocUnsafe(state.end)
  state.buffer[state.start++] = KIND_CODES[msg.kind]
  codec.encode(state, msg)
  return state.buffer
}

/**
 * A message as the bytes before its body's contents and the contents themselves, for sending a
 * large one in pieces without first copying it whole. Envelopes and subsystem messages end with
 * their body (a length, then the bytes); other kinds come whole in `head`.
 */
export function encodeSplit(msg: WireMessage): { head: Uint8Array; body: Uint8Array } {
  if (msg.kind !== 'envelope' && msg.kind !== 'subsystem') return { head: encodeMessage(msg), body: NO_BYTES }
  const body = msg.body
  // Encoded with an empty body, the message ends with that body's length, 0, in one byte.
  const empty = encodeMessage({ ...msg, body: NO_BYTES })
  const prefix = empty.byteLength - 1
  const length: State = { start: 0, end: 0, buffer: NO_BYTES }
  c.uint.preencode(length, body.byteLength)
  const head = b4a.allocUnsafe(prefix + length.end)
  head.set(empty.subarray(0, prefix), 0)
  c.uint.encode({ start: prefix, end: head.byteLength, buffer: head }, body.byteLength)
  return { head, body }
}

/** Writes header and message at state.start; `size` is messageSize(msg). */
export function encodeFrameInto(state: State, msg: WireMessage, size: number): void {
  const b = state.buffer
  let at = state.start
  b[at++] = size & 0xff
  b[at++] = (size >>> 8) & 0xff
  b[at++] = (size >>> 16) & 0xff
  b[at++] = (size >>> 24) & 0xff
  b[at++] = KIND_CODES[msg.kind]
  state.start = at
  codecOf(msg).encode(state, msg)
}

export function encodeFrame(msg: WireMessage): Uint8Array {
  const size = messageSize(msg)
  const state: State = { start: 0, end: FRAME_HEADER_BYTES + size, buffer: b4a.allocUnsafe(FRAME_HEADER_BYTES + size) }
  encodeFrameInto(state, msg, size)
  return state.buffer
}

/**
 * Decodes one message (no frame header). Returns null for an extension kind this version does
 * not know (the frame is skipped); trailing bytes after the known fields are ignored.
 */
export function decodeMessageOrSkip(bytes: Uint8Array): WireMessage | null {
  return decodeMessageAt(bytes, 0, bytes.byteLength)
}

/** The same, for the message in bytes[start, end): no view of it is made. */
export function decodeMessageAt(bytes: Uint8Array, start: number, end: number): WireMessage | null {
  if (end <= start) throw ClusterError.BAD_FRAME('empty message')
  const code = bytes[start]!
  const codec = BY_CODE[code]
  if (codec === undefined) {
    if (code >= FIRST_EXTENSION_KIND) return null
    throw ClusterError.UNKNOWN_KIND(`unknown message kind ${code}`)
  }
  const state: State = { start: start + 1, end, buffer: bytes }
  try {
    return codec.decode(state)
  } catch (err) {
    throw ClusterError.from(err, 'BAD_FRAME')
  }
}

export function decodeMessage(bytes: Uint8Array): WireMessage {
  const msg = decodeMessageOrSkip(bytes)
  if (msg === null) throw ClusterError.UNKNOWN_KIND(`extension kind ${bytes[0]} is not known here`)
  return msg
}

/** The version both sides speak: the highest in both ranges. */
export function chooseVersion(theirMin: number, theirMax: number): number {
  const top = Math.min(theirMax, WIRE_VERSION)
  if (top < Math.max(theirMin, MIN_WIRE_VERSION) || theirMin > theirMax) {
    throw ClusterError.BAD_VERSION(`peer speaks wire versions ${theirMin}-${theirMax}, this node ${MIN_WIRE_VERSION}-${WIRE_VERSION}`)
  }
  return top
}
