// Memory for the batches a peer writes and keeps until they are acknowledged. A batch is encoded
// straight into a slab, written as a view of it and kept as that view: no buffer per batch, and
// nothing that lives from one write to its ack has to be collected. A slab whose batches are all
// acknowledged is written over from its start.
//
// Written over only when that is safe: an ack of a batch on the connection that wrote it means
// the socket has long let go of those bytes. After a connection change or a drop of what was
// kept, the slab in use is left to the views that still hold it (they are resent or dropped,
// never written over) and the next batch takes a fresh one.

import b4a from 'b4a'

/** A new peer's first slab; each new one doubles while batches still hold the last. */
export const FIRST_SLAB_BYTES = 16 * 1024
/** The largest slab; a batch over half of it gets a buffer of its own. */
export const MAX_SLAB_BYTES = 1024 * 1024

/** A slab: `live` batches in it are kept, `used` bytes from its start are taken. */
export interface Slab {
  buffer: Uint8Array
  used: number
  live: number
}

/** One peer's slabs: room for kept batches, taken in order and written over once all settle. */
export class BatchSlabs {
  private _current: Slab | null
  /** The size the next slab takes. */
  private _nextBytes: number
  /** A batch was taken since the last trim. */
  private _busy: boolean

  constructor() {
    this._current = null
    this._nextBytes = FIRST_SLAB_BYTES
    this._busy = false
  }

  /** Bytes of the slab in use (what an idle peer holds). */
  get heldBytes(): number {
    return this._current === null ? 0 : this._current.buffer.byteLength
  }

  /**
   * Room for a kept batch of `bytes`: a view of the slab in use, or of a new one. `into.slab` is
   * what `release` takes once the batch is settled (null for a batch with a buffer of its own).
   */
  take(bytes: number, into: { slab: Slab | null }): Uint8Array {
    if (bytes > MAX_SLAB_BYTES / 2) {
      into.slab = null
      return b4a.allocUnsafe(bytes)
    }
    let slab = this._current
    if (slab === null || slab.buffer.byteLength - slab.used < bytes) {
      if (slab !== null && slab.live === 0 && slab.buffer.byteLength >= bytes) {
        slab.used = 0
      } else {
        // Batches still hold the one in use (or it is too small): a bigger one, up to the cap.
        if (slab !== null) this._nextBytes = Math.min(MAX_SLAB_BYTES, slab.buffer.byteLength * 2)
        while (this._nextBytes < bytes) this._nextBytes *= 2
        slab = this._current = { buffer: b4a.allocUnsafe(this._nextBytes), used: 0, live: 0 }
      }
    }
    this._busy = true
    const at = slab.used
    slab.used += bytes
    slab.live++
    into.slab = slab
    return slab.buffer.subarray(at, at + bytes)
  }

  /** A batch taken from `slab` is settled: once none is left in the slab in use, it starts over. */
  release(slab: Slab | null): void {
    if (slab === null) return
    slab.live--
    if (slab.live === 0 && slab === this._current) slab.used = 0
  }

  /**
   * Called now and then: a slab nothing is kept in, and from which no batch was taken since the
   * last call, is let go, and the next one starts small again (an idle peer holds none).
   */
  trim(): void {
    const slab = this._current
    if (slab !== null && slab.live === 0 && !this._busy) {
      this._current = null
      this._nextBytes = FIRST_SLAB_BYTES
    }
    this._busy = false
  }

  /** What is kept may still be in a socket's hands or go out again: write nothing over it. */
  abandon(): void {
    this._current = null
  }
}
