// One peer's outbound frames in two lanes. Control frames (heartbeats, gossip, leave, goodbye)
// always go first; envelopes and channel messages follow in order, and one bigger than
// CHUNK_BYTES is cut into chunk frames, one per batch, so control frames slip in between its
// pieces.

import b4a from 'b4a'
import { encodeFrameInto, encodeSplit, FRAME_HEADER_BYTES, LINK_KINDS, messageSize } from '../wire/index.ts'
import type { ChunkMessage, WireKind, WireMessage } from '../wire/index.ts'

/**
 * Envelopes up to this size go whole; larger ones in pieces of this size. A heartbeat then waits
 * behind at most one piece (about a quarter of a millisecond on loopback), and envelopes of
 * moderate size pay no extra copies.
 */
export const CHUNK_BYTES = 256 * 1024

export interface QueuedFrame {
  msg: WireMessage
  size: number
}

// A large envelope being sent in chunks: its encoding is `head` followed by `body`, never copied
// whole; a chunk inside the body is a view of it.
interface LargeInFlight {
  frame: QueuedFrame
  id: number
  head: Uint8Array
  body: Uint8Array
  totalBytes: number
  offset: number
}

// A FIFO of frames with O(1) shift.
class FrameLane {
  private _items: (QueuedFrame | null)[]
  private _head: number

  constructor() {
    this._items = []
    this._head = 0
  }

  get length(): number {
    return this._items.length - this._head
  }

  push(frame: QueuedFrame): void {
    this._items.push(frame)
  }

  peek(): QueuedFrame | null {
    return this._head < this._items.length ? this._items[this._head]! : null
  }

  shift(): QueuedFrame | null {
    if (this._head === this._items.length) return null
    const frame = this._items[this._head]!
    this._items[this._head++] = null
    if (this._head === this._items.length) {
      this._items = []
      this._head = 0
    } else if (this._head > 1024 && this._head * 2 > this._items.length) {
      this._items = this._items.slice(this._head)
      this._head = 0
    }
    return frame
  }

  /** Takes out the frames for which `refuse` is true, keeping the order of the rest. */
  remove(refuse: (f: QueuedFrame) => boolean, out: QueuedFrame[]): void {
    const kept: (QueuedFrame | null)[] = []
    for (let i = this._head; i < this._items.length; i++) {
      const f = this._items[i]!
      if (refuse(f)) out.push(f)
      else kept.push(f)
    }
    this._items = kept
    this._head = 0
  }

  drain(out: QueuedFrame[]): void {
    for (let i = this._head; i < this._items.length; i++) out.push(this._items[i]!)
    this._items = []
    this._head = 0
  }
}

/** What the last batch taken holds, for numbering it (see LINK_KINDS). */
export interface BatchShape {
  /** Frames at its start that take no number (heartbeats, acks, goodbyes), and their bytes. */
  linkFrames: number
  linkBytes: number
  /** Frames that take a number: whole messages and last pieces. */
  numbered: number
  /** A large message's last piece is in it. */
  closed: boolean
  /** 'envelope' if it carried any, else the first numbered frame's kind. */
  kind: WireKind
}

export class OutboundQueue {
  /** Bytes of encoded messages waiting, control and envelopes. */
  queuedBytes: number
  readonly shape: BatchShape
  private _control: FrameLane
  private _numberedControl: QueuedFrame[]
  private _envelopes: FrameLane
  private _large: LargeInFlight | null
  private _nextChunkId: number

  constructor() {
    this.queuedBytes = 0
    this.shape = { linkFrames: 0, linkBytes: 0, numbered: 0, closed: false, kind: 'envelope' }
    this._control = new FrameLane()
    this._numberedControl = []
    this._envelopes = new FrameLane()
    this._large = null
    this._nextChunkId = 1
  }

  get length(): number {
    return this._control.length + this._envelopes.length + (this._large === null ? 0 : 1)
  }

  /** A large message is part-way written. */
  get largeOpen(): boolean {
    return this._large !== null && this._large.offset > 0
  }

  pushControl(msg: WireMessage, size: number): void {
    this._control.push({ msg, size })
    this.queuedBytes += size
  }

  pushEnvelope(msg: WireMessage, size: number): void {
    this._envelopes.push({ msg, size })
    this.queuedBytes += size
  }

  /**
   * Appends the frames to write now to `out`, control first (the unnumbered ones at the very
   * start), up to about `maxBytes` of encoding, and returns the encoded size of what it appended
   * (frame headers included). `shape` says what the batch holds.
   */
  takeBatch(maxBytes: number, out: QueuedFrame[]): number {
    const shape = this.shape
    let bytes = 0
    let numbered = 0
    let kind: WireKind | null = null
    const later = this._numberedControl
    for (let f = this._control.shift(); f !== null; f = this._control.shift()) {
      this.queuedBytes -= f.size
      if (LINK_KINDS.has(f.msg.kind)) {
        out.push(f)
        bytes += f.size + FRAME_HEADER_BYTES
      } else {
        later.push(f)
      }
    }
    shape.linkFrames = out.length
    shape.linkBytes = bytes
    shape.closed = false
    for (let i = 0; i < later.length; i++) {
      const f = later[i]!
      out.push(f)
      bytes += f.size + FRAME_HEADER_BYTES
      if (kind === null) kind = f.msg.kind
    }
    numbered += later.length
    later.length = 0
    while (bytes < maxBytes) {
      if (this._large !== null) {
        const chunk = this._nextChunk(this._large)
        out.push(chunk)
        bytes += chunk.size + FRAME_HEADER_BYTES
        kind = 'envelope'
        // The message takes its number with its last piece.
        if (this._large === null) {
          numbered++
          shape.closed = true
        }
        continue
      }
      const f = this._envelopes.shift()
      if (f === null) break
      if (f.size > CHUNK_BYTES) {
        // Counted in queuedBytes until its last chunk is taken.
        const { head, body } = encodeSplit(f.msg)
        this._large = { frame: f, id: this._nextChunkId++, head, body, totalBytes: head.byteLength + body.byteLength, offset: 0 }
        continue
      }
      this.queuedBytes -= f.size
      out.push(f)
      bytes += f.size + FRAME_HEADER_BYTES
      numbered++
      if (kind === null || f.msg.kind === 'envelope') kind = f.msg.kind
    }
    shape.numbered = numbered
    shape.kind = kind ?? 'envelope'
    return bytes
  }

  /**
   * A new connection knows nothing of the pieces the last one carried: a large message partly
   * sent starts again from its first piece (under a new id), never mid-stream.
   */
  restartLarge(): void {
    if (this._large === null || this._large.offset === 0) return
    this._large.offset = 0
    this._large.id = this._nextChunkId++
  }

  /**
   * Takes out the queued frames whose encoding exceeds `maxMessageBytes` (a peer announced a
   * smaller frame limit than the one they were checked against) and returns them.
   */
  removeLarger(maxMessageBytes: number): QueuedFrame[] {
    const out: QueuedFrame[] = []
    const tooBig = (f: QueuedFrame) => f.size > maxMessageBytes
    this._control.remove(tooBig, out)
    this._envelopes.remove(tooBig, out)
    for (const f of out) this.queuedBytes -= f.size
    return out
  }

  /** Empties the queue and returns what was in it, a partly sent large envelope included. */
  clear(): QueuedFrame[] {
    const left: QueuedFrame[] = []
    this._control.drain(left)
    if (this._large !== null) left.push(this._large.frame)
    this._envelopes.drain(left)
    this._large = null
    this.queuedBytes = 0
    return left
  }

  private _nextChunk(large: LargeInFlight): QueuedFrame {
    const start = large.offset
    const end = Math.min(large.totalBytes, start + CHUNK_BYTES)
    const msg: ChunkMessage = { kind: 'chunk', id: large.id, offset: start, totalBytes: large.totalBytes, data: encodedRange(large, start, end) }
    large.offset = end
    if (end === large.totalBytes) {
      this.queuedBytes -= large.frame.size
      this._large = null
    }
    return { msg, size: messageSize(msg) }
  }
}

// Bytes start..end of a large envelope's encoding: a view when they lie in the body, a copy when
// they take in some of the head.
function encodedRange(large: LargeInFlight, start: number, end: number): Uint8Array {
  const h = large.head.byteLength
  if (start >= h) return large.body.subarray(start - h, end - h)
  const out = b4a.allocUnsafe(end - start)
  const fromHead = Math.min(end, h) - start
  out.set(large.head.subarray(start, start + fromHead), 0)
  if (end > h) out.set(large.body.subarray(0, end - h), fromHead)
  return out
}

/** Encodes frames of `bytes` in all into one buffer (`into`, or a new one), for one write. */
export function encodeBatch(frames: QueuedFrame[], bytes: number, into: Uint8Array = b4a.allocUnsafe(bytes)): Uint8Array {
  const state = { start: 0, end: bytes, buffer: into }
  for (const f of frames) encodeFrameInto(state, f.msg, f.size)
  return state.buffer
}
