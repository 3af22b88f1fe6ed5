// One remote node as this transport sees it: its outbound queue in two lanes, the flush that
// writes the queue to the open connection, the redial timer and backoff, heartbeats and stats.
// It runs over any Connection, and a Connection over any duplex that fills the socket contract
// in backends/types.ts; how connections are dialled, accepted and paired is the transport's.

import { now } from '../../backends/clock.ts'
import type { NodeAddress } from '../node-address.ts'
import { CONTROL_KINDS, FRAME_HEADER_BYTES, messageSize } from '../wire/index.ts'
import type { HeartbeatMessage, WireMessage } from '../wire/index.ts'
import { Backoff } from './backoff.ts'
import { ConnectionState, type Connection } from './connection.ts'
import { OutboundQueue, encodeBatch, type QueuedFrame } from './outbound-queue.ts'
import { DropReason, countDrop, emptyPeerStats, type PeerStats } from './transport.ts'

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

/** Told of every message the peer did not take or gave up on. */
export type PeerDropHandler = (peer: Peer, msg: WireMessage, bytes: number, reason: DropReason) => void

// The most one write carries; a flush of more writes again while the socket takes it.
const MAX_BATCH_BYTES = 256 * 1024

export class Peer {
  readonly address: NodeAddress
  readonly queue: OutboundQueue
  readonly backoff: Backoff
  readonly stats: PeerStats
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

  constructor(address: NodeAddress, opts: PeerOptions) {
    this.address = address
    this.queue = new OutboundQueue()
    this.backoff = new Backoff({ baseMs: opts.backoffBaseMs, maxMs: opts.backoffMaxMs })
    this.stats = emptyPeerStats(address.toString())
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
  }

  get connected(): boolean {
    return this.conn !== null
  }

  /** Nothing open, under way or waiting: the peer can be forgotten without losing anything. */
  get idle(): boolean {
    return this.conn === null && this.dialing === null && !this.dialInFlight && this.dialDone === null && this._redialTimer === null && this.queue.length === 0
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
    if (CONTROL_KINDS.has(msg.kind)) {
      if (queue.queuedBytes + size > this._opts.maxQueuedBytes + this._opts.maxControlQueuedBytes) {
        this.drop(msg, size, DropReason.QUEUE_FULL)
        return
      }
      queue.pushControl(msg, size)
    } else {
      if (queue.queuedBytes + size > this._opts.maxQueuedBytes) {
        this.drop(msg, size, DropReason.QUEUE_FULL)
        return
      }
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

  /** A frame arrived from the peer (counted here, whatever becomes of it). */
  received(): void {
    this.stats.framesIn++
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
    this.queue.restartLarge()
    this.backoff.reset()
    this.cancelRedial()
    for (const f of this.queue.removeLarger(conn.peerMaxFrameBytes - FRAME_HEADER_BYTES)) {
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
      if (this.conn === null && this.queue.length > 0) this.ondial?.(this)
    }, waitMs)
  }

  cancelRedial(): void {
    if (this._redialTimer !== null) clearTimeout(this._redialTimer)
    this._redialTimer = null
  }

  /** Drops everything queued, a partly sent large envelope included, for `reason`. */
  clear(reason: DropReason): void {
    for (const f of this.queue.clear()) this.drop(f.msg, f.size, reason)
  }

  drop(msg: WireMessage, bytes: number, reason: DropReason): void {
    countDrop(this.stats.drops, reason)
    this.ondrop?.(this, msg, bytes, reason)
  }

  /**
   * Writes queued frames while the socket takes them, at most `maxWrites` writes; returns the
   * number of frames written.
   */
  flush(maxWrites = Infinity): number {
    const conn = this.conn
    if (conn === null || conn.state !== ConnectionState.OPEN) return 0
    const batch = this._batch
    let frames = 0
    for (let writes = 0; writes < maxWrites && conn.writable && this.queue.length > 0; writes++) {
      const bytes = this.queue.takeBatch(MAX_BATCH_BYTES, batch)
      if (batch.length === 0) break
      frames += batch.length
      this.stats.framesOut += batch.length
      this.stats.bytesOut += bytes
      const buffer = encodeBatch(batch, bytes)
      batch.length = 0
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
    this.clear(DropReason.SHUTDOWN)
    conn.end()
    await closed(conn, deadline - now())
  }

  /** A copy of the stats as they stand. */
  snapshot(): PeerStats {
    const s = { ...this.stats, drops: { ...this.stats.drops } }
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
