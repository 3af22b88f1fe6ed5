// Turns a byte stream into messages. A frame whose length prefix exceeds maxFrameBytes is refused
// as soon as the prefix is in, before any of its payload is kept. A frame lying whole in one chunk
// is decoded from a view of that chunk; only frames split across chunks are copied, into a buffer
// that grows with the bytes really received (never with what the prefix claims).

import b4a from 'b4a'
import { ClusterError } from '../errors.ts'
import { decodeMessageAt } from './codec.ts'
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, type WireMessage } from './messages.ts'

const MIN_SPLIT_BUFFER = 4096

/** What `new FrameDecoder(options)` takes. */
export interface FrameDecoderOptions {
  /**
   * Longest frame accepted, in bytes (a positive integer).
   * @default 16777216 (16 MiB)
   */
  maxFrameBytes?: number
}

/**
 * Turns the bytes of one connection into wire messages: `push(chunk)` returns the messages the
 * chunk completes. A length prefix above `maxFrameBytes` throws `FRAME_TOO_LARGE` as soon as the
 * prefix is in; malformed frames throw `BAD_FRAME`. After a throw the stream is unusable (the
 * connection is to be closed).
 */
export class FrameDecoder {
  /** Frames of extension kinds this version does not know, skipped. */
  skippedFrames: number
  private _maxFrameBytes: number
  private _header: Uint8Array
  private _headerBytes: number
  /** Length of the frame being gathered, or -1 while reading a header. */
  private _need: number
  private _buffer: Uint8Array | null
  private _have: number
  private _error: ClusterError | null

  /**
   * `new FrameDecoder()`, `new FrameDecoder(maxFrameBytes)` or `new FrameDecoder({ maxFrameBytes })`.
   * A limit that is not a positive integer throws BAD_OPTIONS.
   */
  constructor(opts: FrameDecoderOptions | number = {}) {
    const max = typeof opts === 'number' ? opts : opts === null || typeof opts !== 'object' ? opts : opts.maxFrameBytes
    this._maxFrameBytes = checkLimit(max ?? DEFAULT_MAX_FRAME_BYTES)
    this.skippedFrames = 0
    this._header = new Uint8Array(FRAME_HEADER_BYTES)
    this._headerBytes = 0
    this._need = -1
    this._buffer = null
    this._have = 0
    this._error = null
  }

  /** Longest frame accepted; may be raised or lowered between pushes (a positive integer). */
  get maxFrameBytes(): number {
    return this._maxFrameBytes
  }

  set maxFrameBytes(value: number) {
    this._maxFrameBytes = checkLimit(value)
  }

  /**
   * Bytes held for a frame not yet complete, header bytes included: a whole length prefix with
   * no payload yet is 4, so a stall check sees a frame begun.
   */
  get pendingFrameBytes(): number {
    return this._need === -1 ? this._headerBytes : FRAME_HEADER_BYTES + this._have
  }

  /** Memory held: the split-frame buffer's capacity plus the header. */
  get bufferedBytes(): number {
    return FRAME_HEADER_BYTES + (this._buffer === null ? 0 : this._buffer.byteLength)
  }

  /**
   * The messages `chunk` completes, in order (often none or one). Messages decoded from a frame
   * lying whole in `chunk` hold views of it, so the caller must not reuse the chunk's memory.
   */
  push(chunk: Uint8Array): WireMessage[] {
    if (this._error !== null) throw this._error
    try {
      return this._push(chunk)
    } catch (err) {
      const error = ClusterError.from(err, 'BAD_FRAME')
      this._error = error
      this._buffer = null
      this._have = 0
      throw error
    }
  }

  private _push(chunk: Uint8Array): WireMessage[] {
    const out: WireMessage[] = []
    const end = chunk.byteLength
    let offset = 0
    while (offset < end) {
      if (this._need === -1) {
        let len: number
        if (this._headerBytes === 0 && end - offset >= FRAME_HEADER_BYTES) {
          len = readUint32(chunk, offset)
          offset += FRAME_HEADER_BYTES
        } else {
          while (this._headerBytes < FRAME_HEADER_BYTES && offset < end) this._header[this._headerBytes++] = chunk[offset++]!
          if (this._headerBytes < FRAME_HEADER_BYTES) break
          len = readUint32(this._header, 0)
          this._headerBytes = 0
        }
        if (len > this._maxFrameBytes) {
          throw ClusterError.FRAME_TOO_LARGE(`frame of ${len} bytes announced, limit ${this._maxFrameBytes}`)
        }
        if (len === 0) throw ClusterError.BAD_FRAME('empty frame')
        if (end - offset >= len) {
          this._emit(chunk, offset, offset + len, out)
          offset += len
          continue
        }
        this._need = len
        this._have = 0
      }
      const take = Math.min(this._need - this._have, end - offset)
      this._append(chunk, offset, take)
      offset += take
      if (this._have === this._need) {
        const frame = this._buffer!.subarray(0, this._need)
        // The decoded message may keep views into this buffer: start the next one afresh.
        this._buffer = null
        this._have = 0
        this._need = -1
        this._emit(frame, 0, frame.byteLength, out)
      }
    }
    return out
  }

  private _append(chunk: Uint8Array, offset: number, take: number): void {
    const want = this._have + take
    if (this._buffer === null || this._buffer.byteLength < want) {
      // Double, so gathering costs linear time, but never past the frame's length: capacity stays
      // within twice what has arrived (or MIN_SPLIT_BUFFER).
      const capacity = this._buffer?.byteLength ?? 0
      const next = b4a.allocUnsafe(Math.min(this._need, Math.max(want, MIN_SPLIT_BUFFER, capacity * 2)))
      if (this._buffer !== null && this._have > 0) next.set(this._buffer.subarray(0, this._have), 0)
      this._buffer = next
    }
    this._buffer.set(chunk.subarray(offset, offset + take), this._have)
    this._have = want
  }

  private _emit(bytes: Uint8Array, start: number, end: number, out: WireMessage[]): void {
    const msg = decodeMessageAt(bytes, start, end)
    if (msg === null) this.skippedFrames++
    else out.push(msg)
  }
}

// A limit of NaN or Infinity would turn the check off: only a positive integer is a limit.
function checkLimit(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw ClusterError.BAD_OPTIONS(`maxFrameBytes must be a positive integer, not ${String(value)}`)
  }
  return value
}

function readUint32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000
}
