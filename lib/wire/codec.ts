// The frame functions built on the codecs: a message is its kind byte followed by its fields; a
// frame is a 4-byte little-endian length then one message. Every decoding failure is a
// ClusterError.

import b4a from 'b4a'
import c from 'compact-encoding'
import { ClusterError } from '../errors.ts'
import { codecOf, codecOfCode } from './codecs.ts'
import { FIRST_EXTENSION_KIND, FRAME_HEADER_BYTES, KIND_CODES, MIN_WIRE_VERSION, WIRE_VERSION, type WireMessage } from './messages.ts'
import { NO_BYTES, type State } from './primitives.ts'

export type { State } from './primitives.ts'

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
  const codec = codecOfCode(code)
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
