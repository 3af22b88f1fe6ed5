// InMemoryTransport: transports on one Bus talk without sockets. It behaves as TcpTransport does
// where a test can see it (connect on first send, in-order delivery per sender, frame limits,
// drops counted and reported, peers, events, stats), and the bus can inject faults.

import EventEmitter from 'bare-events'
import { now } from '../clock.ts'
import { ClusterError } from '../errors.ts'
import { scopedLogger, silentLogger, type Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, decodeMessage, encodeMessage, messageSize } from '../wire/index.ts'
import type { WireMessage } from '../wire/index.ts'
import { Bus, type BusOptions } from './bus.ts'
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
  self: NodeAddress | string
  bus: Bus
  log?: Logger
  maxFrameBytes?: number
  // Round-trip this transport's messages through the wire codec (the bus may ask it of all).
  serialize?: boolean
}

const INTERNAL_KINDS = new Set<WireMessage['kind']>(['hello', 'hello-ack', 'auth', 'chunk'])

export class InMemoryTransport extends EventEmitter<TransportEventMap> implements Transport {
  readonly self: NodeAddress
  readonly bus: Bus
  readonly maxFrameBytes: number
  readonly incarnation: number
  private _serialize: boolean
  private _log: Logger
  private _handler: MessageHandler | null
  private _started: boolean
  private _closed: boolean
  // Peers linked with this one, by key, with the incarnation each had when linked.
  private _linked: Map<string, { address: NodeAddress; incarnation: number }>
  private _stats: Map<string, PeerStats>
  private _orphanDrops: Partial<Record<DropReason, number>>
  private _heartbeatSeq: number

  static newBus(opts?: BusOptions): Bus {
    return new Bus(opts)
  }

  constructor(opts: InMemoryTransportOptions) {
    super()
    this.self = typeof opts.self === 'string' ? NodeAddress.parse(opts.self) : opts.self
    if (!(opts.bus instanceof Bus)) throw ClusterError.BAD_OPTIONS('InMemoryTransport needs a bus: InMemoryTransport.newBus()')
    this.bus = opts.bus
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.incarnation = newIncarnation()
    this._serialize = opts.serialize === true || opts.bus.serialize
    this._log = scopedLogger(opts.log ?? silentLogger, 'in-memory-transport')
    this._handler = null
    this._started = false
    this._closed = false
    this._linked = new Map()
    this._stats = new Map()
    this._orphanDrops = {}
    this._heartbeatSeq = 0
  }

  async start(): Promise<void> {
    if (this._started) return
    if (this.bus.member(this.self) !== null) throw ClusterError.LISTEN_FAILED(`${this.self.toString()} is already on this bus`)
    this._started = true
    this.bus.register(this)
  }

  async shutdown(): Promise<void> {
    if (this._closed) return
    this._closed = true
    for (const { address } of [...this._linked.values()]) this._unlink(address, null)
    this.bus.unregister(this)
  }

  setHandler(handler: MessageHandler): void {
    this._handler = handler
  }

  peers(): NodeAddress[] {
    return [...this._linked.values()].map((l) => l.address)
  }

  send(to: NodeAddress, msg: WireMessage): void {
    if (INTERNAL_KINDS.has(msg.kind)) throw ClusterError.BAD_OPTIONS(`${msg.kind} frames are the transport's own`)
    let size: number
    try {
      size = messageSize(msg)
    } catch (err) {
      throw ClusterError.BAD_OPTIONS(`cannot encode ${String(msg.kind)} message: ${(err as Error).message}`)
    }
    const peer = this._started && !this._closed ? this.bus.member(to) : null
    const limit = peer?.maxFrameBytes ?? this.maxFrameBytes
    if (size + FRAME_HEADER_BYTES > limit) {
      throw ClusterError.FRAME_TOO_LARGE(`${msg.kind} of ${size} bytes does not fit ${to.toString()}'s frame limit of ${limit}`)
    }
    if (peer === null || !(peer instanceof InMemoryTransport)) {
      this._drop(to, msg, size, this._closed ? DropReason.SHUTDOWN : DropReason.UNREACHABLE)
      return
    }
    this._link(peer)
    peer._link(this)
    const outgoing = this._serialize ? decodeMessage(encodeMessage(msg)) : msg
    const verdict = this.bus.transmit(this.self, peer, outgoing)
    if (verdict === 'lost') this._drop(to, msg, size, DropReason.INJECTED_LOSS)
    else if (verdict === 'partitioned') this._drop(to, msg, size, DropReason.PARTITIONED)
    else {
      const s = this._peerStats(to)
      s.framesOut++
      s.bytesOut += size + FRAME_HEADER_BYTES
    }
  }

  disconnect(peer: NodeAddress): void {
    if (!this._linked.has(peer.key)) return
    this._unlink(peer, null)
  }

  stats(): TransportStats
  stats(peer: NodeAddress): PeerStats | null
  stats(peer?: NodeAddress): TransportStats | PeerStats | null {
    if (peer !== undefined) {
      const s = this._stats.get(peer.key)
      return s === undefined ? null : { ...s, drops: { ...s.drops }, connected: this._linked.has(peer.key) }
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
    for (const s of this._stats.values()) {
      total.bytesIn += s.bytesIn
      total.bytesOut += s.bytesOut
      total.framesIn += s.framesIn
      total.framesOut += s.framesOut
      total.reconnects += s.reconnects
      for (const [reason, n] of Object.entries(s.drops)) {
        total.drops[reason as DropReason] = (total.drops[reason as DropReason] ?? 0) + (n ?? 0)
      }
    }
    return total
  }

  // Sends a heartbeat to a linked peer now; the ack sets the round-trip time in stats.
  heartbeat(peer: NodeAddress): void {
    this.send(peer, { kind: 'heartbeat', seq: ++this._heartbeatSeq, sentAt: now() })
  }

  // Called by the bus.
  _receive(from: NodeAddress, msg: WireMessage): void {
    if (this._closed) return
    const sender = this.bus.member(from)
    if (sender instanceof InMemoryTransport) this._link(sender)
    const s = this._peerStats(from)
    s.framesIn++
    s.bytesIn += messageSize(msg) + FRAME_HEADER_BYTES
    if (msg.kind === 'heartbeat') this.send(from, { kind: 'heartbeat-ack', seq: msg.seq, sentAt: msg.sentAt })
    else if (msg.kind === 'heartbeat-ack') s.rttMs = Math.max(0, now() - msg.sentAt)
    else if (msg.kind === 'goodbye') return
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

  private _link(peer: InMemoryTransport): void {
    const known = this._linked.get(peer.self.key)
    if (known !== undefined && known.incarnation === peer.incarnation) return
    const s = this._peerStats(peer.self)
    if (known !== undefined) {
      this._log.info(`${peer.self.toString()} restarted (incarnation ${peer.incarnation})`)
      this.emit('peer-restarted', peer.self, peer.incarnation, known.incarnation)
    } else if (s.incarnation !== null) {
      s.reconnects++
      if (s.incarnation !== peer.incarnation) this.emit('peer-restarted', peer.self, peer.incarnation, s.incarnation)
    }
    s.incarnation = peer.incarnation
    this._linked.set(peer.self.key, { address: peer.self, incarnation: peer.incarnation })
    this._log.debug(`linked with ${peer.self.toString()}`)
    this.emit('peer-connected', peer.self, peer.incarnation)
  }

  private _unlink(peer: NodeAddress, cause: ClusterError | null): void {
    if (!this._linked.delete(peer.key)) return
    this.emit('peer-disconnected', peer, cause)
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

  private _drop(to: NodeAddress, msg: WireMessage, bytes: number, reason: DropReason): void {
    countDrop(this._stats.has(to.key) ? this._peerStats(to).drops : this._orphanDrops, reason)
    this._log.debug(`dropped ${msg.kind} for ${to.toString()}: ${reason}`)
    this.emit('drop', { peer: to, reason, kind: msg.kind, bytes })
  }
}
