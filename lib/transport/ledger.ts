// One peer's delivery ledger. Outbound: the numbers of the frames this node sent the peer, and
// the encoded batches they went out in, kept (as written, in the peer's slabs, never copied) until
// the peer acknowledges them, to be written again when a connection to the same incarnation comes back.
// Inbound: the highest number this node delivered of the peer's frames, which discards a resent
// duplicate and is what it acknowledges. And the counts that close: every numbered message
// handed to send() is delivered (acknowledged), dropped under a reason, or still pending.

import type { WireKind } from '../wire/index.ts'
import { BatchSlabs, type Slab } from './batch-slabs.ts'
import { countDrop, type DeliveryStats, type DropReason } from './transport.ts'

/**
 * Acknowledge when this many numbered messages arrived since the last ack (at the end of the read
 * that brought them, so one ack a read at most)...
 */
export const ACK_EVERY_MESSAGES = 8192
/**
 * ...or this many bytes: a small fraction of maxQueuedBytes, so a stream never waits on acks, and
 * few enough acks that each costs the stream little (one write here, one read there).
 */
export const ACK_EVERY_BYTES = 1024 * 1024
/** Otherwise at the latest this long after a delivery (and on any frame written before). */
export const ACK_DELAY_MS = 20

// A batch as written: `buffer` holds its numbered frames from `first` on; every number up to
// `last` settles it (Infinity while it carries pieces of a message whose last piece, which takes
// the message's number, has not been written yet). `kind` names what it carried, for drop events.
interface Kept {
  buffer: Uint8Array
  /** Where `buffer` lives, released when the batch settles. */
  slab: Slab | null
  first: number
  last: number
  kind: WireKind
}

export class Ledger {
  /** The number the next numbered frame takes. */
  next: number
  /** Every number up to this is settled: acknowledged by the peer or counted as dropped. */
  settled: number
  /** The peer's incarnation the numbering goes to; 0 before the first connection. */
  towards: number
  /** Bytes of kept batches. */
  keptBytes: number
  /** The peer's incarnation whose frames `highest` counts; 0 before the first. */
  from: number
  /** The highest number of the peer's frames delivered here. */
  highest: number
  /** Numbered messages that arrived here (new or again) since the last ack went to the peer. */
  owed: number
  readonly stats: DeliveryStats
  private _kept: Kept[]
  private _head: number
  private _slabs: BatchSlabs
  /** The slab of the room handed out last, for the `wrote` that keeps it. */
  private _taken: { slab: Slab | null }

  constructor(stats: DeliveryStats) {
    this.next = 1
    this.settled = 0
    this.towards = 0
    this.keptBytes = 0
    this.from = 0
    this.highest = 0
    this.owed = 0
    this.stats = stats
    this._kept = []
    this._head = 0
    this._slabs = new BatchSlabs()
    this._taken = { slab: null }
  }

  /** Numbered messages written and not yet settled. */
  get unacked(): number {
    return this.next - 1 - this.settled
  }

  /** Written batches kept for a resend. */
  get keptCount(): number {
    return this._kept.length - this._head
  }

  /** Bytes of slab memory held for kept batches (the slab in use). */
  get slabBytes(): number {
    return this._slabs.heldBytes
  }

  /** Room for the next batch written, one to keep: `wrote` keeps (a view of) it. */
  room(bytes: number): Uint8Array {
    return this._slabs.take(bytes, this._taken)
  }

  /** Lets go of slab memory a quiet peer does not need (see BatchSlabs.trim). */
  trim(): void {
    this._slabs.trim()
  }

  /**
   * A connection opened: what is kept may go out on it again while the last one still holds it
   * in its write queue, so none of it is written over (see batch-slabs.ts).
   */
  newConnection(): void {
    this._slabs.abandon()
  }

  /**
   * A batch went out (`buffer`: its part to keep, in the last room taken, or empty): `numbered` frames took numbers from `next` on; `open` says a message was
   * left part-sent (its pieces in this batch take the message's number only with its last one);
   * `closed` says a part-sent message's last piece was in it.
   */
  wrote(buffer: Uint8Array, numbered: number, open: boolean, closed: boolean, kind: WireKind): void {
    const first = this.next
    this.next += numbered
    const kept = this._kept
    // The earlier batches of the message just finished settle with its number.
    if (closed) {
      for (let i = kept.length - 1; i >= this._head && kept[i]!.last === Infinity; i--) kept[i]!.last = this.next - 1
    }
    const slab = this._taken.slab
    this._taken.slab = null
    if (buffer.byteLength === 0) return
    kept.push({ buffer, slab, first, last: open ? Infinity : this.next - 1, kind })
    this.keptBytes += buffer.byteLength
  }

  /** The peer acknowledged every number up to `delivered`; returns how many were newly settled. */
  acked(delivered: number): number {
    // A peer cannot acknowledge what was never sent.
    const upTo = Math.min(delivered, this.next - 1)
    if (upTo <= this.settled) return 0
    const n = upTo - this.settled
    this.settled = upTo
    this.stats.delivered += n
    this._release(upTo)
    return n
  }

  /**
   * The peer delivered up to `delivered` of this node's run, more than this ledger numbered (it
   * was made afresh, the peer remembers): numbering goes on from there. Only with nothing unsettled.
   */
  skipTo(delivered: number): void {
    if (delivered <= this.next - 1 || this.unacked > 0 || this.keptCount > 0) return
    this.next = delivered + 1
    this.settled = delivered
  }

  /** The batches to write again on a new connection to the same incarnation, oldest first. */
  resend(): Kept[] {
    return this._kept.slice(this._head)
  }

  /** The number a new connection's numbered frames start from: the first kept batch's, or next. */
  resumeAt(): number {
    return this._head < this._kept.length ? this._kept[this._head]!.first : this.next
  }

  /**
   * Everything written and not settled is dropped for `reason`; calls `each` once per kept batch
   * with the number of messages it stood for. Returns the number dropped.
   */
  dropUnacked(reason: DropReason, each?: (kind: WireKind, count: number, bytes: number) => void): number {
    const n = this.unacked
    if (n === 0 && this.keptCount === 0) return 0
    let left = n
    let prev = this.settled
    for (let i = this._head; i < this._kept.length; i++) {
      const k = this._kept[i]!
      const upTo = Math.min(k.last, this.next - 1)
      const count = Math.max(0, upTo - prev)
      prev = Math.max(prev, upTo)
      left -= count
      if (count > 0) each?.(k.kind, count, k.buffer.byteLength)
    }
    if (left > 0) each?.('envelope', left, 0)
    const drops = this.stats.dropped
    if (n > 0) drops[reason] = (drops[reason] ?? 0) + n
    this.settled = this.next - 1
    this._kept = []
    this._head = 0
    this.keptBytes = 0
    this._slabs.abandon()
    return n
  }

  /** A numbered message handed to send (even one refused at once). */
  sent(): void {
    this.stats.sent++
  }

  /** A numbered message that was never written was dropped. */
  dropped(reason: DropReason): void {
    countDrop(this.stats.dropped, reason)
  }

  /** A connection of the peer's incarnation `incarnation` opened: a new one starts afresh. */
  receiving(incarnation: number): void {
    if (incarnation === this.from) return
    this.from = incarnation
    this.highest = 0
    this.owed = 0
  }

  /**
   * The peer's numbered message `seq` arrived: true when it is new (hand it up), false for one
   * already delivered (a resend after a lost ack).
   */
  accept(seq: number): boolean {
    this.owed++
    if (seq <= this.highest) {
      this.stats.duplicates++
      return false
    }
    this.highest = seq
    return true
  }

  /**
   * The peer's next numbered frame on a connection is `next`: numbers it skipped it has settled
   * itself (counted as dropped there), so they are not waited for.
   */
  resumed(next: number): void {
    if (next - 1 > this.highest) this.highest = next - 1
  }

  private _release(upTo: number): void {
    const kept = this._kept
    while (this._head < kept.length && kept[this._head]!.last <= upTo) {
      const k = kept[this._head]!
      this.keptBytes -= k.buffer.byteLength
      this._slabs.release(k.slab)
      kept[this._head++] = EMPTY
    }
    if (this._head === kept.length) {
      this._kept = []
      this._head = 0
    } else if (this._head > 64 && this._head * 2 > kept.length) {
      this._kept = kept.slice(this._head)
      this._head = 0
    }
  }
}

const EMPTY: Kept = { buffer: new Uint8Array(0), slab: null, first: 0, last: 0, kind: 'envelope' }
