// The asks of one actor system still waiting for an answer: the reply path each waits at, who
// may answer it, and its timeout on the one timer the system keeps for asks.

import { randomBytes } from '../../backends/crypto.ts'
import { ClusterError } from '../errors.ts'
import type { NodeAddress } from '../node-address.ts'
import type { ActorRef } from './actor-ref.ts'
import { AskTimeouts } from './ask-timeouts.ts'

// An ask's reply path is /temp/ and this many random bytes in hex: a node that was not asked
// cannot guess where to send a reply.
const ASK_ID_BYTES = 12
// Random bytes drawn at a time for ask ids: the draw costs about as much as a hundred asks.
const ASK_ID_POOL = ASK_ID_BYTES * 1024
// Two hex digits per byte value: building the id in JS is cheaper than a call to the encoder.
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

export interface PendingAsk {
  resolve(value: unknown): void
  reject(err: ClusterError): void
  /** Who was asked, named in the timeout's message. */
  ref: ActorRef
  timeoutMs: number
  /** The node asked (null: this node); set again by a router when it sends the message on. */
  node: NodeAddress | null
  /** Routed by sharding: another node that may answer too (the entity's owner now). */
  alsoFrom: ((from: NodeAddress) => boolean) | null
}

export class PendingAsks {
  private _asks: Map<string, PendingAsk>
  private _timeouts: AskTimeouts
  private _ids: Uint8Array
  private _idsAt: number

  constructor() {
    this._asks = new Map()
    this._timeouts = new AskTimeouts((path) => this._expire(path))
    this._ids = new Uint8Array(0)
    this._idsAt = 0
  }

  get size(): number {
    return this._asks.size
  }

  /** A fresh reply path under /temp/. */
  newPath(): string {
    if (this._idsAt + ASK_ID_BYTES > this._ids.byteLength) {
      this._ids = randomBytes(ASK_ID_POOL)
      this._idsAt = 0
    }
    const ids = this._ids
    const end = this._idsAt + ASK_ID_BYTES
    let path = '/temp/'
    for (let i = this._idsAt; i < end; i++) path += HEX[ids[i]!]
    this._idsAt = end
    return path
  }

  /** Waits at `path` until settled or `ask.timeoutMs` (as `AskTimeouts.normalize` gives it). */
  add(path: string, ask: PendingAsk): void {
    this._asks.set(path, ask)
    this._timeouts.add(path, ask.timeoutMs)
  }

  /** Resolves (err null) or rejects the ask waiting at `path`; false if none is. */
  settle(path: string, err: ClusterError | null, value: unknown): boolean {
    const ask = this._asks.get(path)
    if (ask === undefined) return false
    this._asks.delete(path)
    this._timeouts.delete(path, ask.timeoutMs)
    if (err === null) ask.resolve(value)
    else ask.reject(err)
    return true
  }

  /**
   * Whether `from` may answer the ask waiting at `path`: the node it was sent to, or one its
   * router names; true when no ask waits there.
   */
  accepts(path: string, from: NodeAddress): boolean {
    const ask = this._asks.get(path)
    if (ask === undefined) return true
    return (ask.node !== null && ask.node.equals(from)) || (ask.alsoFrom !== null && ask.alsoFrom(from))
  }

  /** The message of the ask waiting at `path` went on to `node`: its answer comes from there. */
  sentTo(path: string, node: NodeAddress | null): void {
    const ask = this._asks.get(path)
    if (ask !== undefined) ask.node = node
  }

  /** Fails every ask waiting on an actor of `node`. */
  failTo(node: NodeAddress, err: ClusterError): void {
    for (const [path, ask] of this._asks) if (ask.node !== null && ask.node.key === node.key) this.settle(path, err, undefined)
  }

  /** Fails every ask with `err` and stops the timer. */
  failAll(err: ClusterError): void {
    this._timeouts.clear()
    for (const [path, ask] of this._asks) {
      ask.reject(err)
      this._asks.delete(path)
    }
  }

  private _expire(path: string): void {
    const ask = this._asks.get(path)
    if (ask === undefined) return
    this._asks.delete(path)
    ask.reject(ClusterError.ASK_TIMEOUT(`no answer from ${ask.ref.path} within ${ask.timeoutMs} ms`))
  }
}
