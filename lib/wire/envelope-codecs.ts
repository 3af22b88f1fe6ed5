// The codecs of user traffic: envelopes to actors (recipient, sender, manifest, body) and
// subsystem messages (a channel and a body).

import { LIMITS, type EnvelopeMessage, type SubsystemMessage } from './messages.ts'
import { ANY_LENGTH, decByte, decBytes, decString, decUint, encBytes, encString, encUint, preBytes, preString, preUint, type Codec, type State } from './primitives.ts'

const HAS_FROM = 1
const HAS_CORRELATION = 2

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

export const envelope: Codec<EnvelopeMessage> = {
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

export const subsystem: Codec<SubsystemMessage> = {
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
function knownHead(m: EnvelopeMessage): number {
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

function preHead(state: State, m: EnvelopeMessage): void {
  state.end++
  preString(state, m.to, LIMITS.path, 'to')
  if (m.from !== null) preString(state, m.from, LIMITS.path, 'from')
  preString(state, m.manifest, LIMITS.manifest, 'manifest')
  if (m.correlationId != null) preUint(state, m.correlationId)
}

function encHead(state: State, m: EnvelopeMessage): void {
  const start = state.start
  state.buffer[state.start++] = (m.from === null ? 0 : HAS_FROM) | (m.correlationId == null ? 0 : HAS_CORRELATION)
  encString(state, m.to)
  if (m.from !== null) encString(state, m.from)
  encString(state, m.manifest)
  if (m.correlationId != null) encUint(state, m.correlationId)
  else missHead(encodedHead, state.buffer, start, state.start, m.to, m.from, m.manifest, null)
}
