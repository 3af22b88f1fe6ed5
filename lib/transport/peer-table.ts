// The peers a transport knows, by address key, kept bounded: idle peers (no connection, nothing
// queued) are forgotten after `forgetAfterMs`, and past `maxPeers` the longest idle go first, so
// strangers saying hello under made-up addresses cannot grow it for good. What a forgotten peer
// counted stays in the totals, and so does, for as many peers as the table holds, the highest
// number delivered of each one's run: a peer made again must not take a resend for new messages.

import type { NodeAddress } from '../node-address.ts'
import { Peer, type PeerDropHandler, type PeerOptions } from './peer.ts'
import { retire } from './traffic.ts'
import { emptyPeerStats, type PeerStats } from './transport.ts'

export interface PeerTableOptions extends PeerOptions {
  maxPeers: number
  forgetPeerAfterMs: number
}

export class PeerTable {
  // The counts of peers no longer in the table, kept in the totals.
  readonly retired: PeerStats
  private _peers: Map<string, Peer>
  private _opts: PeerTableOptions
  private _ondial: (peer: Peer) => void
  private _ondrop: PeerDropHandler
  /** Of peers removed: the run counted and the highest number delivered, oldest first. */
  private _delivered: Map<string, { from: number; highest: number }>

  constructor(opts: PeerTableOptions, ondial: (peer: Peer) => void, ondrop: PeerDropHandler) {
    this.retired = emptyPeerStats('')
    this._peers = new Map()
    this._opts = opts
    this._ondial = ondial
    this._ondrop = ondrop
    this._delivered = new Map()
  }

  get size(): number {
    return this._peers.size
  }

  get(key: string): Peer | undefined {
    return this._peers.get(key)
  }

  // The peer for `address`, made if there is none.
  ensure(address: NodeAddress): Peer {
    let peer = this._peers.get(address.key)
    if (peer === undefined) {
      peer = new Peer(address, this._opts)
      peer.ondial = this._ondial
      peer.ondrop = this._ondrop
      const d = this._delivered.get(address.key)
      if (d !== undefined) {
        this._delivered.delete(address.key)
        peer.ledger.receiving(d.from)
        peer.ledger.highest = d.highest
      }
      this._peers.set(address.key, peer)
    }
    return peer
  }

  values(): IterableIterator<Peer> {
    return this._peers.values()
  }

  // Takes the peer out of the table; its counts go to the retired totals.
  forget(peer: Peer): void {
    this.remove(peer)
    this.retire(peer)
  }

  // Takes the peer out of the table (new sends to its address make a new one).
  remove(peer: Peer): void {
    const key = peer.address.key
    if (this._peers.get(key) !== peer) return
    this._peers.delete(key)
    const ledger = peer.ledger
    if (ledger.from === 0) return
    this._delivered.delete(key)
    this._delivered.set(key, { from: ledger.from, highest: ledger.highest })
    if (this._delivered.size > this._opts.maxPeers) this._delivered.delete(this._delivered.keys().next().value!)
  }

  // Adds what a removed peer counted to the retired totals, once it has counted its last.
  retire(peer: Peer): void {
    retire(this.retired, peer.snapshot())
  }

  // Every peer's stats, the retired counts last.
  snapshots(): PeerStats[] {
    const out: PeerStats[] = []
    for (const p of this._peers.values()) out.push(p.snapshot())
    out.push(this.retired)
    return out
  }

  // Forgets peers idle past forgetPeerAfterMs, and past maxPeers the longest idle.
  forgetIdle(t: number): void {
    let idle: Peer[] | null = this._peers.size > this._opts.maxPeers ? [] : null
    for (const peer of this._peers.values()) {
      if (!peer.idle) continue
      if (t - peer.lastActiveAt > this._opts.forgetPeerAfterMs) this.forget(peer)
      else idle?.push(peer)
    }
    if (idle === null) return
    const excess = this._peers.size - this._opts.maxPeers
    if (excess <= 0) return
    idle.sort((a, b) => a.lastActiveAt - b.lastActiveAt)
    for (let i = 0; i < excess && i < idle.length; i++) this.forget(idle[i]!)
    idle = null
  }
}
