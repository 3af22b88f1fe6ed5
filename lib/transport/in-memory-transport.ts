// InMemoryTransport: transports on one Bus talk without sockets. It behaves as TcpTransport does
// where a test can see it (connect on first send, in-order delivery per sender, frame limits,
// drops counted and reported, peers, events, stats), and the bus can inject faults.

import EventEmitter from 'bare-events'
import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import { scopedLogger, silentLogger, type Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, LINK_KINDS, decodeMessage, encodeMessage } from '../wire/index.ts'
import type { WireMessage } from '../wire/index.ts'
import { Bus, type BusMember, type BusOptions } from './bus.ts'
import { checkFits, dispatch, sendSize, sumStats, type Receiver } from './traffic.ts'
import {
  DropReason,
  countDrop,
  dropEvent,
  emptyPeerStats,
  newIncarnation,
  type MessageHandler,
  type DeliveryStats,
  type PeerStats,
  type ObservableTransport,
  type TransportEventMap,
  type TransportStats
} from './transport.ts'

/** What `new InMemoryTransport(options)` takes. */
export interface InMemoryTransportOptions {
  /** This node's address; port 0 takes a free port on the bus at start, as a TCP listener would. */
  self: NodeAddress | string
  /** The bus the nodes of one test share (`InMemoryTransport.newBus()`). */
  bus: Bus
  /**
   * Where the transport logs.
   * @default silent
   */
  log?: Logger
  /**
   * The largest frame this node accepts (length prefix included).
   * @default 16777216 (16 MiB)
   */
  maxFrameBytes?: number
  /**
   * Round-trip this transport's messages through the wire codec (the bus may ask it of all).
   * @default false
   */
  serialize?: boolean
}

const MIN_FRAME_BYTES = 1024
const MAX_FRAME_BYTES = 0xffffffff

interface Link {
  address: NodeAddress
  incarnation: number
}

/**
 * A transport without sockets, for tests: transports on one `Bus` reach each other in-process,
 * through the faults and partitions the bus injects. It behaves as TcpTransport does where a
 * test can see it (connect on first send, order per sender, frame limits, drops counted and
 * emitted, events, stats). `new InMemoryTransport({ self, bus, log })`.
 */
export class InMemoryTransport
  extends EventEmitter<TransportEventMap>
  implements ObservableTransport, BusMember
{
  self: NodeAddress
  /** The bus this transport is on. */
  readonly bus: Bus
  /**
   * The largest frame this node accepts (length prefix included).
   * @default 16777216 (16 MiB)
   */
  readonly maxFrameBytes: number
  readonly incarnation: number
  private _serialize: boolean
  private _log: Logger
  private _handler: MessageHandler | null
  private _started: boolean
  private _closing: boolean
  /** Peers linked with this one, by key, with the incarnation each had when linked. */
  private _linked: Map<string, Link>
  private _stats: Map<string, PeerStats>
  /** Drops for addresses never linked (nobody there), kept apart so stats(peer) stays null. */
  private _orphanDrops: Partial<Record<DropReason, number>>
  private _orphanDelivery: DeliveryStats
  private _heartbeatSeq: number
  /** When the last heartbeat went to each peer, on the monotonic clock. */
  private _heartbeatAt: Map<string, number>
  private _receiver: Receiver

  /** A new bus, the meeting place of the transports of one test: `new Bus(opts)`. */
  static newBus(opts?: BusOptions): Bus {
    return new Bus(opts)
  }

  /**
   * Throws `BAD_OPTIONS` without a bus or on a `maxFrameBytes` outside 1024..2^32-1; joins the
   * bus at `start()`.
   */
  constructor(opts: InMemoryTransportOptions) {
    super()
    if (opts === null || typeof opts !== 'object') {
      throw ClusterError.BAD_OPTIONS('InMemoryTransport takes { self, bus, log }')
    }
    if (!(opts.bus instanceof Bus)) {
      throw ClusterError.BAD_OPTIONS('InMemoryTransport needs a bus: InMemoryTransport.newBus()')
    }
    const max = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    if (!Number.isInteger(max) || max < MIN_FRAME_BYTES || max > MAX_FRAME_BYTES) {
      throw ClusterError.BAD_OPTIONS('maxFrameBytes must be an integer from 1024 to 2^32-1')
    }
    this.self = typeof opts.self === 'string' ? NodeAddress.parse(opts.self) : opts.self
    this.bus = opts.bus
    this.maxFrameBytes = max
    this.incarnation = newIncarnation()
    this._serialize = opts.serialize === true || opts.bus.serialize
    this._log = scopedLogger(opts.log ?? silentLogger, 'in-memory-transport')
    this._handler = null
    this._started = false
    this._closing = false
    this._linked = new Map()
    this._stats = new Map()
    this._orphanDrops = {}
    this._orphanDelivery = emptyPeerStats('').delivery
    this._heartbeatSeq = 0
    this._heartbeatAt = new Map()
    this._receiver = this._newReceiver(null)
  }

  async start(): Promise<void> {
    if (this._started) return
    if (this._closing) throw ClusterError.TRANSPORT_CLOSED('this transport was shut down')
    const self = this.self.port === 0 ? this.bus.withFreePort(this.self) : this.self
    if (this.bus.member(self) !== null) {
      throw ClusterError.LISTEN_FAILED(`${self.toString()} is already on this bus`)
    }
    this.self = self
    this.bus.register(this)
    this._started = true
    this._log.debug(`on the bus as ${this.self.toString()}`)
  }

  /**
   * Delivers what is already due, tells every peer goodbye, and leaves the bus. What is still
   * delayed on its way is dropped and counted as 'shutdown'.
   */
  async shutdown(): Promise<void> {
    if (this._closing) return
    this._closing = true
    if (!this._started) return
    this.bus.flush(this)
    for (const { address } of [...this._linked.values()]) this._unlink(address, null)
    this.bus.unregister(this)
    this._log.debug(`left the bus`)
  }

  setHandler(handler: MessageHandler): void {
    this._handler = handler
    this._receiver = this._newReceiver(handler)
  }

  peers(): NodeAddress[] {
    return [...this._linked.values()].map((l) => l.address)
  }

  send(to: NodeAddress, msg: WireMessage): void {
    const size = sendSize(msg)
    const member = this._started && !this._closing ? this.bus.member(to) : null
    const peer = member instanceof InMemoryTransport && !member._closing ? member : null
    checkFits(msg, size, peer?.maxFrameBytes ?? this.maxFrameBytes, to)
    let outgoing = msg
    let encoded: Uint8Array | null = null
    if (this._serialize) {
      try {
        encoded = encodeMessage(msg)
        outgoing = decodeMessage(encoded)
      } catch (err) {
        throw ClusterError.BAD_OPTIONS(`${msg.kind} does not survive the wire: ${ClusterError.from(err, 'BAD_OPTIONS').message}`)
      }
    }
    const numbered = !LINK_KINDS.has(msg.kind)
    if (peer === null) {
      if (numbered) this._delivery(to).sent++
      this._dropOut(to, msg, size, this._closing ? DropReason.SHUTDOWN : DropReason.UNREACHABLE)
      return
    }
    if (peer !== this) {
      this._link(peer)
      peer._link(this)
    }
    if (numbered) this._peerStats(peer.self).delivery.sent++
    const verdict = this.bus.transmit(this, peer, outgoing, size, encoded)
    if (verdict === 'lost') this._dropOut(to, msg, size, DropReason.INJECTED_LOSS)
    else if (verdict === 'partitioned') this._dropOut(to, msg, size, DropReason.PARTITIONED)
    else {
      const s = this._peerStats(peer.self)
      s.framesOut++
      s.bytesOut += size + FRAME_HEADER_BYTES
    }
  }

  /**
   * Ends the link on both sides. Messages already on their way still arrive; the next send
   * links again.
   */
  disconnect(peer: NodeAddress): void {
    if (!this._linked.has(peer.key)) return
    this._log.debug(`disconnecting ${peer.toString()}`)
    this._unlink(peer, null)
  }

  stats(): TransportStats
  stats(peer: NodeAddress): PeerStats | null
  stats(peer?: NodeAddress): TransportStats | PeerStats | null {
    if (peer !== undefined) {
      const s = this._stats.get(peer.key)
      return s === undefined ? null : this._snapshot(s, peer)
    }
    const base = {
      self: this.self.toString(),
      queuedBytes: 0,
      drops: {},
      handshakeFailures: 0,
      rejected: {},
      inboundConnections: 0,
      knownPeers: this._stats.size,
      reassemblyBytes: 0,
      dialsQueued: 0,
      delivery: { ...this._orphanDelivery, dropped: { ...this._orphanDelivery.dropped } }
    }
    // What is on its way to peers no longer linked counts too.
    const total = sumStats(base, [...this._stats.entries()].map(([key, s]) => this._snapshot(s, key)), this._orphanDrops)
    total.queuedBytes = this.bus.inFlight(this.self).bytes
    return total
  }

  heartbeat(peer: NodeAddress, withinMs = 0): void {
    const t = now()
    if (t - (this._heartbeatAt.get(peer.key) ?? -Infinity) < withinMs) return
    this._heartbeatAt.set(peer.key, t)
    this.send(peer, { kind: 'heartbeat', seq: ++this._heartbeatSeq, sentAt: t })
  }

  /**
   * Called by the bus.
   * @internal
   */
  _receive(from: NodeAddress, msg: WireMessage, size: number): boolean {
    if (this._closing) return false
    const s = this._peerStats(from)
    s.framesIn++
    s.bytesIn += size + FRAME_HEADER_BYTES
    dispatch(this._receiver, from, s, msg)
    return true
  }

  /** @internal */
  _delivered(to: NodeAddress, msg: WireMessage): void {
    if (!LINK_KINDS.has(msg.kind)) this._peerStats(to).delivery.delivered++
  }

  refuse(from: NodeAddress, msg: WireMessage, reason: DropReason): void {
    this._drop(from, msg, 0, reason)
  }

  // Called by the bus.
  /** @internal */
  _undelivered(to: NodeAddress, msg: WireMessage, size: number, reason: DropReason): void {
    this._dropOut(to, msg, size, reason)
  }

  private _link(peer: InMemoryTransport): void {
    const known = this._linked.get(peer.self.key)
    if (known !== undefined && known.incarnation === peer.incarnation) return
    const s = this._peerStats(peer.self)
    const previous = known?.incarnation ?? s.incarnation
    if (known === undefined && s.incarnation !== null) s.reconnects++
    s.incarnation = peer.incarnation
    this._linked.set(peer.self.key, { address: peer.self, incarnation: peer.incarnation })
    this._log.debug(`connected to ${peer.self.toString()}`)
    this.emit('peer-connected', peer.self, peer.incarnation)
    if (previous !== null && previous !== peer.incarnation) {
      this._log.info(`${peer.self.toString()} restarted (incarnation ${peer.incarnation})`)
      this.emit('peer-restarted', peer.self, peer.incarnation, previous)
    }
  }

  private _unlink(peer: NodeAddress, cause: ClusterError | null): void {
    const link = this._linked.get(peer.key)
    if (link === undefined) return
    this._linked.delete(peer.key)
    this.emit('peer-disconnected', link.address, cause)
    const other = this.bus.member(peer)
    if (other instanceof InMemoryTransport) other._unlink(this.self, cause)
  }

  private _peerStats(peer: NodeAddress): PeerStats {
    let s = this._stats.get(peer.key)
    if (s === undefined) {
      s = emptyPeerStats(peer.toString())
      this._stats.set(peer.key, s)
    }
    return s
  }

  private _newReceiver(handler: MessageHandler | null): Receiver {
    return {
      handler,
      log: this._log,
      reply: (to, msg) => this.send(to, msg),
      onheartbeat: (from, rttMs) => this.emit('heartbeat', from, rttMs),
      drop: (from, msg, reason) => this._drop(from, msg, 0, reason)
    }
  }

  private _snapshot(s: PeerStats, peer: NodeAddress | string): PeerStats {
    const flight = this.bus.inFlight(this.self, typeof peer === 'string' ? s.peer : peer)
    const d = s.delivery
    const settled = d.delivered + Object.values(d.dropped).reduce((n: number, x) => n + (x ?? 0), 0)
    return {
      ...s,
      drops: { ...s.drops },
      delivery: { ...d, dropped: { ...d.dropped }, pending: d.sent - settled },
      connected: this._linked.has(typeof peer === 'string' ? peer : peer.key),
      queuedBytes: flight.bytes,
      queuedFrames: flight.frames
    }
  }

  // Sent and received messages are counted per peer once the peer is known, else apart.
  private _delivery(to: NodeAddress): DeliveryStats {
    return this._stats.has(to.key) ? this._peerStats(to).delivery : this._orphanDelivery
  }

  /** A message this node sent will not arrive. */
  private _dropOut(to: NodeAddress, msg: WireMessage, bytes: number, reason: DropReason): void {
    if (!LINK_KINDS.has(msg.kind)) countDrop(this._delivery(to).dropped, reason)
    this._drop(to, msg, bytes, reason)
  }

  private _drop(to: NodeAddress, msg: WireMessage, bytes: number, reason: DropReason): void {
    countDrop(this._stats.has(to.key) ? this._peerStats(to).drops : this._orphanDrops, reason)
    this._log.debug(`dropped ${msg.kind} for ${to.toString()}: ${reason}`)
    this.emit('drop', dropEvent(to, msg, bytes, reason))
  }
}
