// Dials for the peers that want a connection: at most `maxConcurrent` under way at once (the
// rest wait their turn, in order), each peer's next attempt after its backoff, and after
// `maxAttempts` failures in a row what the peer has queued is dropped as unreachable.

import { now } from '../../backends/clock.ts'
import type { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Peer } from './peer.ts'
import { DropReason } from './transport.ts'

export interface DialerOptions {
  maxConcurrent: number
  maxAttempts: number
  /**
   * Opens a connection to the peer and settles when it is open or has failed (calling `failed`).
   */
  connect: (peer: Peer) => Promise<void>
  /** Whether the transport is running and this is the peer on record for its address. */
  current: (peer: Peer) => boolean
  log: Logger
  /** Told of every failed dial, before the dialer decides what comes next. */
  onfailed: (peer: Peer, cause: ClusterError) => void
}

export class Dialer {
  /** Dials under way. */
  active: number
  /** Dials that had to wait for a free slot, counted over the dialer's life. */
  queued: number
  private _opts: DialerOptions
  private _waiting: Peer[]

  constructor(opts: DialerOptions) {
    this.active = 0
    this.queued = 0
    this._opts = opts
    this._waiting = []
  }

  /** The peer still wants a dial: it is current, has no connection and has frames waiting. */
  wanted(peer: Peer): boolean {
    return this._opts.current(peer) && peer.conn === null && peer.pending
  }

  /** A dial for the peer now, or when its backoff allows, unless one is under way or waiting. */
  ensure(peer: Peer): void {
    if (peer.conn !== null || peer.dialing !== null || peer.dialInFlight || peer.redialPending) return
    const wait = peer.nextDialAt - now()
    if (wait > 0) peer.scheduleRedial(wait)
    else void this.dial(peer)
  }

  /** Dials the peer in a free slot, or queues it for the next one. */
  dial(peer: Peer): Promise<void> {
    if (this.active >= this._opts.maxConcurrent) {
      if (!this._waiting.includes(peer)) {
        this._waiting.push(peer)
        this.queued++
      }
      return Promise.resolve()
    }
    this.active++
    const done = this._opts.connect(peer).finally(() => {
      this.active--
      if (peer.dialDone === done) peer.dialDone = null
      this._next()
    })
    peer.dialDone = done
    return done
  }

  /**
   * A dial (or its handshake) failed: back off and try again, or after too many failures in a
   * row give up on what the peer has queued.
   */
  failed(peer: Peer, cause: ClusterError, duringHandshake: boolean): void {
    if (duringHandshake) peer.stats.handshakeFailures++
    this._opts.onfailed(peer, cause)
    if (!this._opts.current(peer) || peer.conn !== null) return
    const wait = peer.backoff.fail()
    this._opts.log.debug(`dial to ${peer.address.toString()} failed (${cause.message}); next in ${wait} ms`)
    if (peer.backoff.failures >= this._opts.maxAttempts) {
      peer.clear(DropReason.UNREACHABLE)
      peer.nextDialAt = now() + wait
      return
    }
    if (peer.pending) peer.scheduleRedial(wait)
  }

  private _next(): void {
    while (this._waiting.length > 0 && this.active < this._opts.maxConcurrent) {
      const peer = this._waiting.shift()!
      if (this.wanted(peer)) void this.dial(peer)
    }
  }
}
