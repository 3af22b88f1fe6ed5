// Memory for the batches a peer writes and keeps until they are acknowledged. A batch is encoded
// straight into a slab, written as a view of it and kept as that view: no buffer per batch, and
// nothing that lives from one write to its ack has to be collected. A slab whose batches are all
// acknowledged is written over from its start: the one in use at once, a full one as the spare
// the next slab comes from, so a stream goes round two or three warm slabs.
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

/**
 * A slab: `live` batches in it are kept, `used` bytes from its start are taken; `generation` is
 * the connection generation it was taken in (only one of the current generation is reused).
 */
export interface Slab {
  buffer: Uint8Array
  used: number
  live: number
  generation: number
}

/** One peer's slabs: room for kept batches, taken in order and written over once all settle. */
export class BatchSlabs {
  private _current: Slab | null
  /** A full slab of this generation whose batches have all settled, for the next one. */
  private _spare: Slab | null
  private _generation: number
  /** The size the next slab takes. */
  private _nextBytes: number
  /** A batch was taken since the last trim. */
  private _busy: boolean

  constructor() {
    this._current = null
    this._spare = null
    this._generation = 0
    this._nextBytes = FIRST_SLAB_BYTES
    this._busy = false
  }

  /** Bytes of the slab in use and the spare (what an idle peer holds). */
  get heldBytes(): number {
    return (this._current === null ? 0 : this._current.buffer.byteLength) + (this._spare === null ? 0 : this._spare.buffer.byteLength)
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
      } else if (this._spare !== null && this._spare.buffer.byteLength >= bytes) {
        slab = this._current = this._spare
        this._spare = null
        slab.used = 0
      } else {
        // Batches still hold the one in use (or it is too small): a bigger one, up to the cap.
        if (slab !== null) this._nextBytes = Math.min(MAX_SLAB_BYTES, slab.buffer.byteLength * 2)
        while (this._nextBytes < bytes) this._nextBytes *= 2
        slab = this._current = { buffer: b4a.allocUnsafe(this._nextBytes), used: 0, live: 0, generation: this._generation }
      }
    }
    this._busy = true
    const at = slab.used
    slab.used += bytes
    slab.live++
    into.slab = slab
    return slab.buffer.subarray(at, at + bytes)
  }

  /**
   * A batch taken from `slab` is settled: once none is left in it, the slab in use starts over
   * and a full one of this generation becomes the spare.
   */
  release(slab: Slab | null): void {
    if (slab === null) return
    if (--slab.live > 0) return
    if (slab === this._current) slab.used = 0
    else if (slab.generation === this._generation && (this._spare === null || this._spare.buffer.byteLength < slab.buffer.byteLength)) this._spare = slab
  }

  /**
   * Called now and then: a slab nothing is kept in, and from which no batch was taken since the
   * last call, is let go, and the next one starts small again (an idle peer holds none).
   */
  trim(): void {
    const slab = this._current
    if (!this._busy && (slab === null || slab.live === 0)) {
      this._current = null
      this._spare = null
      this._nextBytes = FIRST_SLAB_BYTES
    }
    this._busy = false
  }

  /** What is kept may still be in a socket's hands or go out again: write nothing over it. */
  abandon(): void {
    this._current = null
    this._spare = null
    this._generation++
  }
}
