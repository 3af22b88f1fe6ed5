// The transport's housekeeping, once a tick: connections that sent part of a frame or of a
// chunked message and stopped are cut as stalled, peers idle too long are forgotten, and every
// open connection gets its heartbeat unless one went out within the interval; a quiet peer lets
// go of the slab its kept batches were written in.

import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import { ConnectionState, type Connection } from './connection.ts'
import type { PeerTable } from './peer-table.ts'

export interface TickerOptions {
  /** A partial frame or reassembly that has not moved for this long is cut. */
  stallTimeoutMs: number
  /** Heartbeat each open connection at least this often; 0 turns the transport's own off. */
  heartbeatIntervalMs: number
}

export class Ticker {
  private _opts: TickerOptions
  private _connections: Set<Connection>
  private _peers: PeerTable
  private _timer: TimerHandle | null

  constructor(opts: TickerOptions, connections: Set<Connection>, peers: PeerTable) {
    this._opts = opts
    this._connections = connections
    this._peers = peers
    this._timer = null
  }

  /** Ticks often enough for the heartbeat and for noticing a stalled frame in good time. */
  start(): void {
    const { heartbeatIntervalMs, stallTimeoutMs } = this._opts
    const tick = Math.max(50, Math.min(heartbeatIntervalMs || 1000, stallTimeoutMs / 2, 1000))
    this._timer = setInterval(() => this.tick(), tick)
  }

  stop(): void {
    if (this._timer !== null) clearInterval(this._timer)
    this._timer = null
  }

  tick(): void {
    const t = now()
    this.sweepStalled(t)
    this._peers.forgetIdle(t)
    const interval = this._opts.heartbeatIntervalMs
    for (const peer of this._peers.values()) {
      peer.ledger.trim()
      if (interval > 0 && peer.conn !== null && peer.conn.state === ConnectionState.OPEN) peer.heartbeat(interval)
    }
  }

  /** Cuts every connection whose partial frame or chunked message stopped moving. */
  sweepStalled(t: number): void {
    const limit = this._opts.stallTimeoutMs
    for (const conn of this._connections) {
      if (conn.pendingFrameBytes > 0 && t - conn.lastDataAt > limit) {
        conn.destroy(ClusterError.STALLED(`${conn.describe()} sent part of a frame and stopped`))
      } else if (conn.reassemblyBytes > 0 && t - conn.reassemblyProgressAt > limit) {
        // Other frames may still flow: what counts is that the chunked message stopped moving.
        conn.destroy(ClusterError.STALLED(`${conn.describe()} sent part of a chunked message and stopped`))
      }
    }
  }
}
