// The field encoders every codec is built from: unsigned integers, capped strings and byte
// strings, floats and counts. Decoders treat input as hostile: every length is capped and checked
// against the bytes really there, and every failure is a ClusterError (BAD_FRAME).

import b4a from 'b4a'
import c from 'compact-encoding'
import { ClusterError } from '../errors.ts'

export interface State {
  start: number
  end: number
  buffer: Uint8Array
}

export interface Codec<T> {
  preencode(state: State, m: T): void
  encode(state: State, m: T): void
  decode(state: State): T
}

export function preUint(state: State, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw ClusterError.BAD_FRAME(`not an unsigned integer: ${n}`)
  c.uint.preencode(state, n)
}

export function encUint(state: State, n: number): void {
  c.uint.encode(state, n)
}

export function decUint(state: State): number {
  if (state.start >= state.end) throw truncated()
  let n: number
  try {
    n = c.uint.decode(state)
  } catch {
    // compact-encoding refuses 64-bit values beyond 2^53-1 with a plain Error.
    throw ClusterError.BAD_FRAME('integer beyond 2^53-1')
  }
  if (state.start > state.end) throw truncated()
  if (!Number.isSafeInteger(n)) throw ClusterError.BAD_FRAME('integer beyond 2^53-1')
  return n
}

// Paths, manifests and addresses repeat from message to message: their UTF-8 bytes are kept in a
// small cache, so encoding them is a copy instead of a conversion (and is measured once).
const UTF8_CACHE_MAX_ENTRIES = 4096
const UTF8_CACHE_MAX_LENGTH = 256
const utf8Cache = new Map<string, Uint8Array>()

// The last two strings looked up: a message measures, then writes, the same few strings.
let recentString0 = ''
let recentBytes0: Uint8Array = new Uint8Array(0)
let recentString1 = ''
let recentBytes1: Uint8Array = new Uint8Array(0)

function utf8(s: string): Uint8Array | null {
  if (s === recentString0) return recentBytes0
  if (s === recentString1) return recentBytes1
  if (s.length > UTF8_CACHE_MAX_LENGTH) return null
  let bytes = utf8Cache.get(s)
  if (bytes === undefined) {
    if (utf8Cache.size >= UTF8_CACHE_MAX_ENTRIES) utf8Cache.clear()
    bytes = b4a.from(s, 'utf8')
    utf8Cache.set(s, bytes)
  }
  recentString1 = recentString0
  recentBytes1 = recentBytes0
  recentString0 = s
  recentBytes0 = bytes
  return bytes
}

// Copies small byte strings by hand: for a few dozen bytes a loop beats the call into set().
const SMALL_COPY = 48

function copyInto(target: Uint8Array, at: number, b: Uint8Array): void {
  const n = b.byteLength
  if (n <= SMALL_COPY) for (let i = 0; i < n; i++) target[at + i] = b[i]!
  else target.set(b, at)
}

/**
 * A copy of `b` that owns its memory. b4a.from(b) does the same, but on Deno it costs ten times
 * as much (about 1 us for 64 bytes, against 0.1 us for this).
 */
export function copyBytes(b: Uint8Array): Uint8Array {
  const out = b4a.allocUnsafe(b.byteLength)
  out.set(b, 0)
  return out
}

export function preString(state: State, s: string, max: number, what: string): void {
  if (typeof s !== 'string') throw ClusterError.BAD_FRAME(`${what} must be a string`)
  const bytes = utf8(s)
  const n = bytes === null ? b4a.byteLength(s, 'utf8') : bytes.byteLength
  if (n > max) throw ClusterError.BAD_FRAME(`${what} is ${n} bytes, more than ${max}`)
  c.uint.preencode(state, n)
  state.end += n
}

export function encString(state: State, s: string): void {
  const bytes = utf8(s)
  if (bytes !== null) {
    c.uint.encode(state, bytes.byteLength)
    copyInto(state.buffer, state.start, bytes)
    state.start += bytes.byteLength
    return
  }
  const n = b4a.byteLength(s, 'utf8')
  c.uint.encode(state, n)
  state.start += b4a.write(state.buffer, s, state.start, n, 'utf8')
}

const ASCII_FAST_PATH_MAX = 64

export function decString(state: State, max: number, what: string): string {
  const n = decUint(state)
  if (n > max) throw ClusterError.BAD_FRAME(`${what} of ${n} bytes, more than ${max}`)
  if (state.end - state.start < n) throw truncated()
  const start = state.start
  state.start += n
  if (n === 0) return ''
  if (n <= ASCII_FAST_PATH_MAX) {
    const s = shortAscii(state.buffer, start, n)
    if (s !== null) return s
  }
  return utf8Exact(state.buffer, start, n, what)
}

// Short strings (paths, manifests, addresses) are nearly always ASCII and repeat from message to
// message: the last one seen in each slot of a small table, by a hash of its bytes, is returned
// again when the bytes match. Reusing one flat string beats building a new one a character at a
// time (which some engines keep as a rope until first use). Null when a byte is not ASCII.
const ASCII_TABLE_SIZE = 1024
const asciiTable: (string | undefined)[] = new Array(ASCII_TABLE_SIZE)

function shortAscii(b: Uint8Array, start: number, n: number): string | null {
  let h = n
  for (let i = start; i < start + n; i++) {
    const x = b[i]!
    if (x >= 0x80) return null
    h = (Math.imul(h, 31) + x) | 0
  }
  const slot = h & (ASCII_TABLE_SIZE - 1)
  const cached = asciiTable[slot]
  if (cached !== undefined && cached.length === n) {
    let same = true
    for (let i = 0; i < n; i++) {
      if (cached.charCodeAt(i) !== b[start + i]) {
        same = false
        break
      }
    }
    if (same) return cached
  }
  let s = ''
  for (let i = start; i < start + n; i++) s += String.fromCharCode(b[i]!)
  asciiTable[slot] = s
  return s
}

// Invalid UTF-8 would decode to replacement characters that take more bytes to encode again, so a
// string within its cap here could break the cap when this node passes it on: refuse it.
function utf8Exact(b: Uint8Array, start: number, n: number, what: string): string {
  const s = b4a.toString(b, 'utf8', start, start + n)
  if (b4a.byteLength(s, 'utf8') !== n) throw ClusterError.BAD_FRAME(`${what} is not valid UTF-8`)
  return s
}

export function preBytes(state: State, b: Uint8Array, max: number, what: string): void {
  if (!(b instanceof Uint8Array)) throw ClusterError.BAD_FRAME(`${what} must be a Uint8Array`)
  if (b.byteLength > max) throw ClusterError.BAD_FRAME(`${what} is ${b.byteLength} bytes, more than ${max}`)
  c.uint.preencode(state, b.byteLength)
  state.end += b.byteLength
}

export function encBytes(state: State, b: Uint8Array): void {
  c.uint.encode(state, b.byteLength)
  copyInto(state.buffer, state.start, b)
  state.start += b.byteLength
}

/**
 * A view into the frame, not a copy: a plain Uint8Array made directly, since `subarray` of a
 * runtime's Buffer subclass goes through its species constructor, on Bare the receiver's largest
 * cost per envelope.
 */
export function decBytes(state: State, max: number, what: string): Uint8Array {
  const n = decUint(state)
  if (n > max) throw ClusterError.BAD_FRAME(`${what} of ${n} bytes, more than ${max}`)
  if (state.end - state.start < n) throw truncated()
  const buf = state.buffer
  const b = new Uint8Array(buf.buffer, buf.byteOffset + state.start, n)
  state.start += n
  return b
}

export function decByte(state: State): number {
  if (state.start >= state.end) throw truncated()
  return state.buffer[state.start++]!
}

export function preFloat(state: State, n: number): void {
  if (typeof n !== 'number') throw ClusterError.BAD_FRAME('not a number')
  state.end += 8
}

export function encFloat(state: State, n: number): void {
  c.float64.encode(state, n)
}

export function decFloat(state: State): number {
  if (state.end - state.start < 8) throw truncated()
  return c.float64.decode(state)
}

export function decCount(state: State, max: number, what: string): number {
  const n = decUint(state)
  if (n > max) throw ClusterError.BAD_FRAME(`${n} ${what}, more than ${max}`)
  // Each entry takes at least one byte: a count the remaining bytes cannot hold is a lie.
  if (n > state.end - state.start) throw truncated()
  return n
}

export function truncated(): ClusterError {
  return ClusterError.BAD_FRAME('message ends before its fields do')
}

export const NO_BYTES = new Uint8Array(0)

/** The cap for message bodies: the frame size the decoder enforces caps them, not the codec. */
export const ANY_LENGTH = Number.MAX_SAFE_INTEGER
