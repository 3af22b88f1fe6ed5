// InMemoryTransport: transports on one Bus talk without sockets. It behaves as TcpTransport does
// where a test can see it (connect on first send, in-order delivery per sender, frame limits,
// drops counted and reported, peers, events, stats), and the bus can inject faults.

import EventEmitter from 'bare-events'
import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import { scopedLogger, silentLogger, type Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import {
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  decodeMessage,
  encodeMessage,
  messageSize
} from '../wire/index.ts'
import type { WireMessage } from '../wire/index.ts'
import { Bus, type BusMember, type BusOptions } from './bus.ts'
import {
  DropReason,
  countDrop,
  emptyPeerStats,
  newIncarnation,
  type MessageHandler,
  type PeerStats,
  type Transport,
  type TransportEventMap,
  type TransportStats
} from './transport.ts'

export interface InMemoryTransportOptions {
  // Port 0 takes a free port on the bus at start, as a TCP listener would.
  self: NodeAddress | string
  bus: Bus
  log?: Logger
  // The largest frame this node accepts (length prefix included). Default 16 MiB.
  maxFrameBytes?: number
  // Round-trip this transport's messages through the wire codec (the bus may ask it of all).
  serialize?: boolean
}

// Kinds only a transport itself sends: the handshake and the pieces of a chunked envelope.
const INTERNAL_KINDS = new Set<WireMessage['kind']>(['hello', 'hello-ack', 'auth', 'chunk'])
const MIN_FRAME_BYTES = 1024
const MAX_FRAME_BYTES = 0xffffffff

interface Link {
  address: NodeAddress
  incarnation: number
}

export class InMemoryTransport
  extends EventEmitter<TransportEventMap>
  implements Transport, BusMember
{
  self: NodeAddress
  readonly bus: Bus
  readonly maxFrameBytes: number
  readonly incarnation: number
  private _serialize: boolean
  private _log: Logger
  private _handler: MessageHandler | null
  private _started: boolean
  private _closing: boolean
  // Peers linked with this one, by key, with the incarnation each had when linked.
  private _linked: Map<string, Link>
  private _stats: Map<string, PeerStats>
  // Drops for addresses never linked (nobody there), kept apart so stats(peer) stays null.
  private _orphanDrops: Partial<Record<DropReason, number>>
  private _heartbeatSeq: number

  static newBus(opts?: BusOptions): Bus {
    return new Bus(opts)
  }

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
    this._heartbeatSeq = 0
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

  // Delivers what is already due, tells every peer goodbye, and leaves the bus. What is still
  // delayed on its way is dropped and counted as 'shutdown'.
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
  }

  peers(): NodeAddress[] {
    return [...this._linked.values()].map((l) => l.address)
  }

  send(to: NodeAddress, msg: WireMessage): void {
    if (INTERNAL_KINDS.has(msg.kind)) {
      throw ClusterError.BAD_OPTIONS(`${msg.kind} frames are the transport's own`)
    }
    let size: number
    try {
      size = messageSize(msg)
    } catch (err) {
      throw ClusterError.BAD_OPTIONS(`cannot encode ${String(msg.kind)} message: ${errorText(err)}`)
    }
    const member = this._started && !this._closing ? this.bus.member(to) : null
    const peer = member instanceof InMemoryTransport && !member._closing ? member : null
    const limit = peer?.maxFrameBytes ?? this.maxFrameBytes
    if (size + FRAME_HEADER_BYTES > limit) {
      throw ClusterError.FRAME_TOO_LARGE(
        `${msg.kind} of ${size} bytes does not fit ${to.toString()}'s frame limit of ${limit}`
      )
    }
    let outgoing = msg
    let encoded: Uint8Array | null = null
    if (this._serialize) {
      try {
        encoded = encodeMessage(msg)
        outgoing = decodeMessage(encoded)
      } catch (err) {
        throw ClusterError.BAD_OPTIONS(`${msg.kind} does not survive the wire: ${errorText(err)}`)
      }
    }
    if (peer === null) {
      this._drop(to, msg, size, this._closing ? DropReason.SHUTDOWN : DropReason.UNREACHABLE)
      return
    }
    if (peer !== this) {
      this._link(peer)
      peer._link(this)
    }
    const verdict = this.bus.transmit(this, peer, outgoing, size, encoded)
    if (verdict === 'lost') this._drop(to, msg, size, DropReason.INJECTED_LOSS)
    else if (verdict === 'partitioned') this._drop(to, msg, size, DropReason.PARTITIONED)
    else {
      const s = this._peerStats(peer.self)
      s.framesOut++
      s.bytesOut += size + FRAME_HEADER_BYTES
    }
  }

  // Ends the link on both sides. Messages already on their way still arrive; the next send
  // links again.
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
    const total: TransportStats = {
      self: this.self.toString(),
      peers: this._linked.size,
      bytesIn: 0,
      bytesOut: 0,
      framesIn: 0,
      framesOut: 0,
      queuedBytes: 0,
      drops: { ...this._orphanDrops },
      reconnects: 0,
      handshakeFailures: 0,
      rejected: {},
      inboundConnections: 0,
      dialsQueued: 0
    }
    total.queuedBytes = this.bus.inFlight(this.self).bytes
    for (const s of this._stats.values()) {
      total.bytesIn += s.bytesIn
      total.bytesOut += s.bytesOut
      total.framesIn += s.framesIn
      total.framesOut += s.framesOut
      total.reconnects += s.reconnects
      for (const [reason, n] of Object.entries(s.drops)) {
        const r = reason as DropReason
        total.drops[r] = (total.drops[r] ?? 0) + (n ?? 0)
      }
    }
    return total
  }

  // Sends a heartbeat to a peer now; its ack sets the round-trip time in stats(peer).
  heartbeat(peer: NodeAddress): void {
    this.send(peer, { kind: 'heartbeat', seq: ++this._heartbeatSeq, sentAt: now() })
  }

  // Called by the bus.
  _receive(from: NodeAddress, msg: WireMessage, size: number): void {
    if (this._closing) return
    const s = this._peerStats(from)
    s.framesIn++
    s.bytesIn += size + FRAME_HEADER_BYTES
    switch (msg.kind) {
      case 'heartbeat':
        this.send(from, { kind: 'heartbeat-ack', seq: msg.seq, sentAt: msg.sentAt })
        break
      case 'heartbeat-ack':
        s.rttMs = Math.max(0, now() - msg.sentAt)
        break
      case 'goodbye':
        this._log.debug(`${from.toString()} said goodbye: ${msg.reason}`)
        return
    }
    const handler = this._handler
    if (handler === null) {
      this._drop(from, msg, 0, DropReason.NO_HANDLER)
      return
    }
    try {
      handler(from, msg)
    } catch (err) {
      this._log.error(`message handler threw on a ${msg.kind} from ${from.toString()}`, err)
    }
  }

  // Called by the bus.
  _undelivered(to: NodeAddress, msg: WireMessage, size: number, reason: DropReason): void {
    this._drop(to, msg, size, reason)
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

  private _snapshot(s: PeerStats, peer: NodeAddress): PeerStats {
    const flight = this.bus.inFlight(this.self, peer)
    return {
      ...s,
      drops: { ...s.drops },
      connected: this._linked.has(peer.key),
      queuedBytes: flight.bytes,
      queuedFrames: flight.frames
    }
  }

  private _drop(to: NodeAddress, msg: WireMessage, bytes: number, reason: DropReason): void {
    countDrop(this._stats.has(to.key) ? this._peerStats(to).drops : this._orphanDrops, reason)
    this._log.debug(`dropped ${msg.kind} for ${to.toString()}: ${reason}`)
    this.emit('drop', { peer: to, reason, kind: msg.kind, bytes })
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
