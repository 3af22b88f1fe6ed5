// One remote node as this transport sees it: its outbound queue in two lanes, the flush that
// writes the queue to the open connection, the redial timer and backoff, heartbeats, stats, and
// the delivery ledger's use of the connection (numbered batches kept until acknowledged and
// written again to the same incarnation; acks sent; duplicates discarded; see ledger.ts).
// It runs over any Connection, and a Connection over any duplex that fills the socket contract
// in backends/types.ts; how connections are dialled, accepted and paired is the transport's.

import { now } from '../../backends/clock.ts'
import type { NodeAddress } from '../node-address.ts'
import { CONTROL_KINDS, FRAME_HEADER_BYTES, LINK_KINDS, encodeFrame, messageSize } from '../wire/index.ts'
import type { HeartbeatMessage, WireKind, WireMessage } from '../wire/index.ts'
import { Backoff } from './backoff.ts'
import { ConnectionState, type Connection } from './connection.ts'
import { ACK_DELAY_MS, ACK_EVERY_BYTES, ACK_EVERY_MESSAGES, Ledger } from './ledger.ts'
import { OutboundQueue, encodeBatch, type QueuedFrame } from './outbound-queue.ts'
import { DropReason, emptyPeerStats, type PeerStats } from './transport.ts'

/** One peer's limits, from TcpTransportOptions. */
export interface PeerOptions {
  /** Envelopes beyond this many queued bytes are refused and counted. */
  maxQueuedBytes: number
  /** Room kept for control frames on top of maxQueuedBytes. */
  maxControlQueuedBytes: number
  /** First wait before dialling the peer again; doubles up to backoffMaxMs. */
  backoffBaseMs: number
  /** Longest wait between dials to the peer. */
  backoffMaxMs: number
}

/**
 * Told of every message the peer did not take or gave up on; `count` > 1 when written batches
 * the peer never acknowledged are given up together.
 */
export type PeerDropHandler = (peer: Peer, kind: WireKind, bytes: number, reason: DropReason, count: number) => void

// The most one write carries; a flush of more writes again while the socket takes it.
const MAX_BATCH_BYTES = 256 * 1024

export class Peer {
  readonly address: NodeAddress
  readonly queue: OutboundQueue
  readonly backoff: Backoff
  readonly stats: PeerStats
  readonly ledger: Ledger
  /** The open connection, or null. */
  conn: Connection | null
  /** A dialled connection still in its handshake. */
  dialing: Connection | null
  /** A dial between connect() and its connection existing. */
  dialInFlight: boolean
  /** Settles when the dial under way has opened or failed. */
  dialDone: Promise<void> | null
  /** Monotonic time before which no dial starts (backoff after the last failure). */
  nextDialAt: number
  /**
   * Monotonic time the peer was last disconnected (its creation before that). Not touched on
   * send: a peer sent to is not idle while anything is queued or being dialled.
   */
  lastActiveAt: number
  /** The peer wants a connection: it has frames queued and none is open. Set by the transport. */
  ondial: ((peer: Peer) => void) | null
  ondrop: PeerDropHandler | null
  private _opts: PeerOptions
  private _redialTimer: TimerHandle | null
  private _flushScheduled: boolean
  /** The last tick's flush wrote more than one frame: coalesce from the first frame on. */
  private _streaming: boolean
  private _everConnected: boolean
  private _heartbeatSeq: number
  private _lastHeartbeatAt: number
  /** Called by the flush that empties the queue (shutdown waits on it). */
  private _onflushed: (() => void) | null
  private _batch: QueuedFrame[]
  private _flushTick: () => void
  /** Numbered messages queued and not yet written. */
  private _queued: number
  /** An ack is to go out with the next flush, whatever else it writes. */
  private _ackDue: boolean
  private _ackTimer: TimerHandle | null
  private _ackTimeout: () => void
  /** The open connection's bytesIn when the last ack went out. */
  private _ackedAtBytes: number
  /** Called once nothing written is left unacknowledged (shutdown waits on it). */
  private _onsettled: (() => void) | null

  constructor(address: NodeAddress, opts: PeerOptions) {
    this.address = address
    this.queue = new OutboundQueue()
    this.backoff = new Backoff({ baseMs: opts.backoffBaseMs, maxMs: opts.backoffMaxMs })
    this.stats = emptyPeerStats(address.toString())
    this.ledger = new Ledger(this.stats.delivery)
    this.conn = null
    this.dialing = null
    this.dialInFlight = false
    this.dialDone = null
    this.nextDialAt = 0
    this.lastActiveAt = now()
    this.ondial = null
    this.ondrop = null
    this._opts = opts
    this._redialTimer = null
    this._flushScheduled = false
    this._streaming = false
    this._everConnected = false
    this._heartbeatSeq = 0
    this._lastHeartbeatAt = -Infinity
    this._onflushed = null
    this._batch = []
    this._flushTick = () => {
      this._flushScheduled = false
      this._streaming = this.flush() > 1
    }
    this._queued = 0
    this._ackDue = false
    this._ackTimer = null
    this._ackTimeout = () => {
      this._ackTimer = null
      if (this.ledger.owed > 0) this._ackSoon()
    }
    this._ackedAtBytes = 0
    this._onsettled = null
  }

  get connected(): boolean {
    return this.conn !== null
  }

  /** Frames queued, or written and not acknowledged: the peer wants a connection. */
  get pending(): boolean {
    return this.queue.length > 0 || this.ledger.unacked > 0 || this.ledger.keptCount > 0
  }

  /** Nothing open, under way or waiting: the peer can be forgotten without losing anything. */
  get idle(): boolean {
    return this.conn === null && this.dialing === null && !this.dialInFlight && this.dialDone === null && this._redialTimer === null && !this.pending
  }

  /** Whether a redial is waiting for its time. */
  get redialPending(): boolean {
    return this._redialTimer !== null
  }

  /**
   * Queues a message of `size` encoded bytes (checked by the caller against the frame limit) in
   * its lane, and writes or asks for a connection. A message over the lane's bound is dropped.
   */
  send(msg: WireMessage, size: number): void {
    const queue = this.queue
    // What is written and not acknowledged is held too, and counts against the bound.
    const held = queue.queuedBytes + this.ledger.keptBytes + size
    if (CONTROL_KINDS.has(msg.kind)) {
      const numbered = !LINK_KINDS.has(msg.kind)
      if (numbered) this.ledger.sent()
      if (held > this._opts.maxQueuedBytes + this._opts.maxControlQueuedBytes) {
        this.drop(msg, size, DropReason.QUEUE_FULL)
        return
      }
      if (numbered) this._queued++
      queue.pushControl(msg, size)
    } else {
      this.ledger.sent()
      if (held > this._opts.maxQueuedBytes) {
        this.drop(msg, size, DropReason.QUEUE_FULL)
        return
      }
      this._queued++
      queue.pushEnvelope(msg, size)
    }
    if (this.conn !== null) this._scheduleFlush()
    else this.ondial?.(this)
  }

  /**
   * Sends a heartbeat unless one went out less than `withinMs` ago. Its ack, timed when it comes
   * back, is the round trip in stats. The one place heartbeats are made.
   */
  heartbeat(withinMs = 0): boolean {
    const t = now()
    if (t - this._lastHeartbeatAt < withinMs) return false
    this._lastHeartbeatAt = t
    const msg: HeartbeatMessage = { kind: 'heartbeat', seq: ++this._heartbeatSeq, sentAt: t }
    this.send(msg, messageSize(msg))
    return true
  }

  /**
   * A frame arrived from the peer on `conn` (counted here, whatever becomes of it). Returns
   * whether to hand it up: acks and resumes are the ledger's, and a numbered message already
   * delivered (resent after its ack was lost) is discarded.
   */
  received(conn: Connection, msg: WireMessage): boolean {
    this.stats.framesIn++
    const ledger = this.ledger
    switch (msg.kind) {
      case 'ack':
        // From a connection of an earlier run of the peer it says nothing of this one.
        if (conn.incarnation === ledger.towards) this._acked(msg.delivered)
        return false
      case 'resume':
        if (conn.incarnation === ledger.from) ledger.resumed(msg.next)
        return false
    }
    const seq = conn.rxSeq
    // Not numbered, or from a connection of the peer's earlier run still draining.
    if (seq === 0 || conn.incarnation !== ledger.from) return true
    // A duplicate is acknowledged too: the peer evidently did not hear the last ack.
    const fresh = ledger.accept(seq)
    if (ledger.owed >= ACK_EVERY_MESSAGES || conn.bytesIn - this._ackedAtBytes >= ACK_EVERY_BYTES) this._ackSoon()
    else if (this._ackTimer === null) this._ackTimer = setTimeout(this._ackTimeout, ACK_DELAY_MS)
    return fresh
  }

  /**
   * A layer above (or the dispatch) refused a message that arrived from the peer: counted and
   * told, as a drop of the peer's own.
   */
  refused(msg: WireMessage, reason: DropReason): void {
    countDrop(this.stats.drops, reason, 1)
    this.ondrop?.(this, msg.kind, 0, reason, 1)
  }

  /**
   * A connection to the peer finished its handshake. Returns the connection it replaces (the
   * caller ends it) or null. What was queued for a larger frame limit than the peer announced is
   * dropped as too large.
   */
  attach(conn: Connection): Connection | null {
    const previous = this.conn !== null && this.conn !== conn ? this.conn : null
    if (this._everConnected) this.stats.reconnects++
    this._everConnected = true
    this.stats.incarnation = conn.incarnation
    this.conn = conn
    const ledger = this.ledger
    ledger.receiving(conn.incarnation)
    ledger.newConnection()
    this._ackedAtBytes = 0
    if (conn.incarnation !== ledger.towards) {
      // A new run of the peer (or the first): what the last one never acknowledged is lost, and
      // a large message part-sent to it starts again from its first piece.
      if (ledger.towards !== 0) this._dropUnacked(DropReason.PEER_RESTARTED)
      ledger.towards = conn.incarnation
      this.queue.restartLarge()
      ledger.skipTo(conn.peerAck)
    } else {
      this._acked(conn.peerAck)
    }
    // The numbering of this connection, then what the last one carried unacknowledged, as it was
    // written: the peer discards what it already delivered.
    const resume: WireMessage = { kind: 'resume', next: ledger.resumeAt() }
    conn.write(encodeFrame(resume))
    for (const k of ledger.resend()) {
      this.stats.bytesOut += k.buffer.byteLength
      conn.write(k.buffer)
    }
    this.backoff.reset()
    this.cancelRedial()
    for (const f of this.queue.removeLarger(conn.peerMaxFrameBytes - FRAME_HEADER_BYTES)) {
      this._unqueued(f.msg)
      this.drop(f.msg, f.size, DropReason.TOO_LARGE)
    }
    return previous
  }

  /** A connection of this peer closed; true when it was the open one. */
  detach(conn: Connection): boolean {
    this.stats.bytesIn += conn.bytesIn
    if (this.conn !== conn) return false
    this.conn = null
    this.lastActiveAt = now()
    return true
  }

  /** Calls ondial after `waitMs`, if the peer still wants a connection then. */
  scheduleRedial(waitMs: number): void {
    this.cancelRedial()
    this.nextDialAt = now() + waitMs
    this._redialTimer = setTimeout(() => {
      this._redialTimer = null
      if (this.conn === null && this.pending) this.ondial?.(this)
    }, waitMs)
  }

  cancelRedial(): void {
    if (this._redialTimer !== null) clearTimeout(this._redialTimer)
    this._redialTimer = null
  }

  /**
   * Drops everything queued, a partly sent large envelope included, and everything written and
   * not acknowledged, for `reason`.
   */
  clear(reason: DropReason): void {
    this._dropUnacked(reason)
    for (const f of this.queue.clear()) {
      this._unqueued(f.msg)
      this.drop(f.msg, f.size, reason)
    }
    if (this._ackTimer !== null) clearTimeout(this._ackTimer)
    this._ackTimer = null
  }

  /** A message for the peer that was never written is dropped. */
  drop(msg: WireMessage, bytes: number, reason: DropReason): void {
    countDrop(this.stats.drops, reason, 1)
    if (!LINK_KINDS.has(msg.kind)) this.ledger.dropped(reason)
    this.ondrop?.(this, msg.kind, bytes, reason, 1)
  }

  /**
   * Writes queued frames while the socket takes them, at most `maxWrites` writes; returns the
   * number of frames written.
   */
  flush(maxWrites = Infinity): number {
    const conn = this.conn
    if (conn === null || conn.state !== ConnectionState.OPEN) return 0
    const batch = this._batch
    const ledger = this.ledger
    const queue = this.queue
    // An ack rides on whatever is written, or goes alone when due.
    if (ledger.owed > 0 && (this._ackDue || queue.length > 0)) this._queueAck(conn)
    let frames = 0
    for (let writes = 0; writes < maxWrites && conn.writable && queue.length > 0; writes++) {
      const bytes = queue.takeBatch(MAX_BATCH_BYTES, batch)
      if (batch.length === 0) break
      frames += batch.length
      this.stats.framesOut += batch.length
      this.stats.bytesOut += bytes
      // The numbered part (after the unnumbered frames at the start) is kept until acknowledged,
      // so a batch with one is encoded into the ledger's room for it.
      const shape = queue.shape
      const keep = shape.linkBytes !== bytes
      const buffer = encodeBatch(batch, bytes, keep ? ledger.room(bytes) : undefined)
      batch.length = 0
      this._queued -= shape.numbered
      const kept = !keep ? NO_BYTES : shape.linkBytes === 0 ? buffer : buffer.subarray(shape.linkBytes)
      ledger.wrote(kept, shape.numbered, queue.largeOpen, shape.closed, shape.kind)
      if (!conn.write(buffer)) break
    }
    if (this.queue.length === 0 && this._onflushed !== null) {
      const onflushed = this._onflushed
      this._onflushed = null
      onflushed()
    }
    return frames
  }

  /**
   * Says goodbye, writes what is queued (waiting for drains until `deadline` on the monotonic
   * clock), drops what is left as 'shutdown' and ends the connection.
   */
  async flushAndEnd(conn: Connection, deadline: number): Promise<void> {
    const bye: WireMessage = { kind: 'goodbye', reason: 'shutdown' }
    this.queue.pushControl(bye, messageSize(bye))
    this.flush()
    if (this.queue.length > 0) {
      const flushed = new Promise<void>((resolve) => {
        this._onflushed = resolve
      })
      await within(Promise.race([flushed, conn.closed]), deadline - now())
      this._onflushed = null
    }
    // What was written is known delivered only once acknowledged: wait for that, within the
    // deadline; the rest is counted as dropped at shutdown.
    if (this.ledger.unacked > 0 && this.conn === conn) {
      const settled = new Promise<void>((resolve) => {
        this._onsettled = resolve
      })
      await within(Promise.race([settled, conn.closed]), deadline - now())
      this._onsettled = null
    }
    this.clear(DropReason.SHUTDOWN)
    conn.end()
    await closed(conn, deadline - now())
  }

  /** A copy of the stats as they stand. */
  snapshot(): PeerStats {
    const d = this.stats.delivery
    const delivery = { ...d, dropped: { ...d.dropped }, pending: this._queued + this.ledger.unacked, unackedBytes: this.ledger.keptBytes }
    const s = { ...this.stats, drops: { ...this.stats.drops }, delivery }
    s.connected = this.conn !== null
    s.queuedBytes = this.queue.queuedBytes
    s.queuedFrames = this.queue.length
    if (this.conn !== null) s.bytesIn += this.conn.bytesIn
    return s
  }

  /**
   * On a quiet link the first send of a tick is written at once (one batch: a lone message, or the
   * first chunk of a large one), so a reply or a ping does not wait for the microtask queue; what
   * is queued after it in the same tick goes out together, control first, when the tick ends.
   * Once ticks carry several frames (a stream), every frame waits for the end of its tick, so a
   * stream pays one write a tick, not two.
   */
  /** The peer acknowledged every numbered frame up to `delivered`. */
  private _acked(delivered: number): void {
    if (this.ledger.acked(delivered) > 0 && this.ledger.unacked === 0 && this._onsettled !== null) {
      const onsettled = this._onsettled
      this._onsettled = null
      onsettled()
    }
  }

  /** An ack is due now (enough arrived since the last, or its delay ran out). */
  private _ackSoon(): void {
    this._ackDue = true
    // At the end of the read under way, not in the middle of it: one ack for all it brought.
    if (this.conn !== null && !this._flushScheduled) {
      this._flushScheduled = true
      queueMicrotask(this._flushTick)
    }
  }

  private _queueAck(conn: Connection): void {
    const ledger = this.ledger
    const ack: WireMessage = { kind: 'ack', delivered: ledger.highest }
    this.queue.pushControl(ack, messageSize(ack))
    ledger.owed = 0
    this._ackDue = false
    this._ackedAtBytes = conn.bytesIn
  }

  /** Gives up on what was written and not acknowledged, for `reason`. */
  private _dropUnacked(reason: DropReason): void {
    this.ledger.dropUnacked(reason, (kind, count, bytes) => {
      countDrop(this.stats.drops, reason, count)
      this.ondrop?.(this, kind, bytes, reason, count)
    })
  }

  /** A queued message left the queue without being written. */
  private _unqueued(msg: WireMessage): void {
    if (!LINK_KINDS.has(msg.kind)) this._queued--
  }

  private _scheduleFlush(): void {
    if (this._flushScheduled) return
    this._flushScheduled = true
    if (!this._streaming) this.flush(1)
    queueMicrotask(this._flushTick)
  }
}

/**
 * Resolves when the connection has closed or `ms` have passed, whichever is first; then makes
 * sure it is closed.
 */
export function closed(conn: Connection, ms: number): Promise<void> {
  if (conn.state === ConnectionState.CLOSED) return Promise.resolve()
  return within(conn.closed, ms).then(() => {
    if (conn.state !== ConnectionState.CLOSED) conn.destroy(null)
  })
}

/**
 * Waits for `p` at most `ms`, and leaves no timer behind (a pending one would keep the process
 * alive after shutdown).
 */
export function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: TimerHandle | null = null
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms))
  })
  return Promise.race([p.then(noop, noop), timeout]).finally(() => clearTimeout(timer))
}

function noop(): void {}

const NO_BYTES = new Uint8Array(0)

function countDrop(drops: Partial<Record<DropReason, number>>, reason: DropReason, n: number): void {
  drops[reason] = (drops[reason] ?? 0) + n
}
