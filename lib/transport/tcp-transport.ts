// TcpTransport: one connection per peer over a TcpBackend, carrying every kind of message.
// Frames queue per peer in two lanes (control first), are encoded in one buffer per flush and
// written once; the queue is bounded in bytes and what does not fit is counted and reported.

import EventEmitter from 'bare-events'
import { getTcpBackend } from '../../backends/index.ts'
import type { TcpBackend, TcpServer, TcpSocket, TlsSettings } from '../../backends/types.ts'
import { resolveTls } from '../../backends/tls-settings.ts'
import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import { scopedLogger, silentLogger, type Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, messageSize } from '../wire/index.ts'
import type { HelloMessage, WireMessage } from '../wire/index.ts'
import { normalizeSecret } from './auth.ts'
import { Backoff } from './backoff.ts'
import {
  Connection,
  ConnectionState,
  DUPLICATE_REASON,
  asClusterError,
  type ConnectionOwner,
  type LocalIdentity
} from './connection.ts'
import { OutboundQueue, encodeBatch, type QueuedFrame } from './outbound-queue.ts'
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

export interface TcpTransportOptions {
  self: NodeAddress | string
  log?: Logger
  tls?: TlsSettings | null
  maxFrameBytes?: number
  backend?: TcpBackend
  // Name both sides must agree on in the handshake. Default: the address's system name.
  cluster?: string
  // A shared secret (at least 16 bytes) both sides of every connection must prove they know.
  secret?: string | Uint8Array | null
  // Paths under /system/ that peers may address; envelopes to any other system path are refused.
  systemPaths?: string[]
  // Address to bind. Default: self.host.
  listenHost?: string
  handshakeTimeoutMs?: number
  connectTimeoutMs?: number
  // Per peer: envelopes beyond this many queued bytes are refused and counted.
  maxQueuedBytes?: number
  // Per peer: room kept for control frames on top of maxQueuedBytes.
  maxControlQueuedBytes?: number
  // The transport's own heartbeat per connection, for round-trip time; 0 turns it off.
  heartbeatIntervalMs?: number
  backoffBaseMs?: number
  backoffMaxMs?: number
  // Consecutive failed dials after which the peer's queued envelopes are dropped as unreachable.
  maxDialAttempts?: number
  maxInboundConnections?: number
  // Dials under way at once; more wait their turn.
  maxConcurrentDials?: number
  // A connection holding part of a frame without progress for this long is closed (STALLED).
  stallTimeoutMs?: number
  shutdownTimeoutMs?: number
}

export const TCP_DEFAULTS = {
  handshakeTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  maxQueuedBytes: 32 * 1024 * 1024,
  maxControlQueuedBytes: 4 * 1024 * 1024,
  heartbeatIntervalMs: 1_000,
  backoffBaseMs: 100,
  backoffMaxMs: 10_000,
  maxDialAttempts: 8,
  maxInboundConnections: 1024,
  maxConcurrentDials: 64,
  stallTimeoutMs: 30_000,
  shutdownTimeoutMs: 5_000
} as const

const MAX_BATCH_BYTES = 256 * 1024
const CONTROL_KINDS = new Set<WireMessage['kind']>(['heartbeat', 'heartbeat-ack', 'gossip', 'leave', 'goodbye'])
const INTERNAL_KINDS = new Set<WireMessage['kind']>(['hello', 'hello-ack', 'auth', 'chunk'])
const DUPLICATE_RETRY_MS = 200

class Peer {
  readonly address: NodeAddress
  readonly queue: OutboundQueue
  readonly backoff: Backoff
  readonly stats: PeerStats
  conn: Connection | null
  dialing: Connection | null
  dialInFlight: boolean
  // Settles when the dial under way has opened or failed.
  dialDone: Promise<void> | null
  redialTimer: TimerHandle | null
  nextDialAt: number
  flushScheduled: boolean
  // The last tick's flush wrote more than one frame: coalesce from the first frame on.
  streaming: boolean
  everConnected: boolean
  heartbeatSeq: number
  lastHeartbeatAt: number
  // Called by the flush that empties the queue (shutdown waits on it).
  onflushed: (() => void) | null

  constructor(address: NodeAddress, backoff: Backoff) {
    this.address = address
    this.queue = new OutboundQueue()
    this.backoff = backoff
    this.stats = emptyPeerStats(address.toString())
    this.conn = null
    this.dialing = null
    this.dialInFlight = false
    this.dialDone = null
    this.redialTimer = null
    this.nextDialAt = 0
    this.flushScheduled = false
    this.streaming = false
    this.everConnected = false
    this.heartbeatSeq = 0
    this.lastHeartbeatAt = 0
    this.onflushed = null
  }
}

export class TcpTransport extends EventEmitter<TransportEventMap> implements Transport, ConnectionOwner {
  self: NodeAddress
  readonly backend: TcpBackend
  readonly maxFrameBytes: number
  readonly cluster: string
  readonly incarnation: number
  private _opts: Required<
    Omit<TcpTransportOptions, 'self' | 'log' | 'tls' | 'backend' | 'cluster' | 'listenHost' | 'maxFrameBytes' | 'secret' | 'systemPaths'>
  >
  private _secret: Uint8Array | null
  private _systemPaths: Set<string>
  private _activeDials: number
  private _dialQueue: Peer[]
  private _dialsQueued: number
  private _tls: TlsSettings | null
  private _listenHost: string
  private _log: Logger
  private _handler: MessageHandler | null
  private _server: TcpServer | null
  private _peers: Map<string, Peer>
  private _inbound: Set<Connection>
  private _connections: Set<Connection>
  private _local: LocalIdentity | null
  private _started: boolean
  private _closing: boolean
  private _ticker: TimerHandle | null
  private _rejected: Partial<Record<string, number>>
  private _unboundHandshakeFailures: number
  private _flushBatch: QueuedFrame[]
  // Drops of messages for which no peer state exists (sent before start or after shutdown).
  private _orphanDrops: Partial<Record<DropReason, number>>

  constructor(
    selfOrOptions: NodeAddress | string | TcpTransportOptions,
    log?: Logger,
    tls?: TlsSettings | null,
    maxFrameBytes?: number
  ) {
    super()
    const o: TcpTransportOptions =
      typeof selfOrOptions === 'object' && !(selfOrOptions instanceof NodeAddress)
        ? selfOrOptions
        : { self: selfOrOptions, log, tls, maxFrameBytes }
    this.self = typeof o.self === 'string' ? NodeAddress.parse(o.self) : o.self
    this.backend = o.backend ?? getTcpBackend()
    this.maxFrameBytes = o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    if (!Number.isInteger(this.maxFrameBytes) || this.maxFrameBytes < 1024 || this.maxFrameBytes > 0xffffffff) {
      throw ClusterError.BAD_OPTIONS('maxFrameBytes must be an integer from 1024 to 2^32-1')
    }
    this.cluster = o.cluster ?? this.self.system
    this.incarnation = newIncarnation()
    this._opts = {
      handshakeTimeoutMs: o.handshakeTimeoutMs ?? TCP_DEFAULTS.handshakeTimeoutMs,
      connectTimeoutMs: o.connectTimeoutMs ?? TCP_DEFAULTS.connectTimeoutMs,
      maxQueuedBytes: o.maxQueuedBytes ?? TCP_DEFAULTS.maxQueuedBytes,
      maxControlQueuedBytes: o.maxControlQueuedBytes ?? TCP_DEFAULTS.maxControlQueuedBytes,
      heartbeatIntervalMs: o.heartbeatIntervalMs ?? TCP_DEFAULTS.heartbeatIntervalMs,
      backoffBaseMs: o.backoffBaseMs ?? TCP_DEFAULTS.backoffBaseMs,
      backoffMaxMs: o.backoffMaxMs ?? TCP_DEFAULTS.backoffMaxMs,
      maxDialAttempts: o.maxDialAttempts ?? TCP_DEFAULTS.maxDialAttempts,
      maxInboundConnections: o.maxInboundConnections ?? TCP_DEFAULTS.maxInboundConnections,
      maxConcurrentDials: o.maxConcurrentDials ?? TCP_DEFAULTS.maxConcurrentDials,
      stallTimeoutMs: o.stallTimeoutMs ?? TCP_DEFAULTS.stallTimeoutMs,
      shutdownTimeoutMs: o.shutdownTimeoutMs ?? TCP_DEFAULTS.shutdownTimeoutMs
    }
    // Validate now: half-configured TLS must fail at construction, not at the first dial.
    resolveTls(o.tls)
    this._secret = normalizeSecret(o.secret)
    this._systemPaths = new Set(o.systemPaths ?? [])
    this._activeDials = 0
    this._dialQueue = []
    this._dialsQueued = 0
    this._tls = o.tls ?? null
    this._listenHost = o.listenHost ?? this.self.host
    this._log = scopedLogger(o.log ?? silentLogger, 'tcp-transport')
    this._handler = null
    this._server = null
    this._peers = new Map()
    this._inbound = new Set()
    this._connections = new Set()
    this._local = null
    this._started = false
    this._closing = false
    this._ticker = null
    this._rejected = {}
    this._unboundHandshakeFailures = 0
    this._flushBatch = []
    this._orphanDrops = {}
  }

  async start(): Promise<void> {
    if (this._started) return
    this._started = true
    this._server = await this.backend.listen({
      host: this._listenHost,
      port: this.self.port,
      tls: this._tls,
      onconnection: (socket) => this._oninbound(socket),
      onerror: (err) => this._reject(err, 'an inbound connection')
    })
    // Port 0 asked the system for a port: the real one is this node's address from now on.
    if (this.self.port === 0) this.self = this.self.withPort(this._server.port)
    this._local = {
      address: this.self,
      cluster: this.cluster,
      incarnation: this.incarnation,
      maxFrameBytes: this.maxFrameBytes,
      secret: this._secret
    }
    // Often enough for the heartbeat and for noticing a stalled frame in good time.
    const tick = Math.max(50, Math.min(this._opts.heartbeatIntervalMs || 1000, this._opts.stallTimeoutMs / 2, 1000))
    this._ticker = setInterval(() => this._ontick(), tick)
    this._log.debug(`listening on ${this._listenHost}:${this._server.port} as ${this.self.toString()}`)
    if (this._tls !== null && this._secret === null && !this.backend.verifiesClientCertificates) {
      this._log.warn(
        `${this.backend.name}'s TLS listener does not check client certificates: anyone can connect; set a cluster secret to keep strangers out`
      )
    }
  }

  setHandler(handler: MessageHandler): void {
    this._handler = handler
  }

  peers(): NodeAddress[] {
    const out: NodeAddress[] = []
    for (const peer of this._peers.values()) if (peer.conn !== null) out.push(peer.address)
    return out
  }

  send(to: NodeAddress, msg: WireMessage): void {
    if (INTERNAL_KINDS.has(msg.kind)) throw ClusterError.BAD_OPTIONS(`${msg.kind} frames are the transport's own`)
    let size: number
    try {
      size = messageSize(msg)
    } catch (err) {
      throw ClusterError.BAD_OPTIONS(`cannot encode ${String(msg.kind)} message: ${asClusterError(err).message}`)
    }
    const peer = this._closing || !this._started ? null : this._peer(to)
    const limit = peer?.conn?.peerMaxFrameBytes ?? this.maxFrameBytes
    if (size + FRAME_HEADER_BYTES > limit) {
      throw ClusterError.FRAME_TOO_LARGE(`${msg.kind} of ${size} bytes does not fit ${to.toString()}'s frame limit of ${limit}`)
    }
    if (peer === null) {
      this._drop(to, null, msg, size, this._closing ? DropReason.SHUTDOWN : DropReason.UNREACHABLE)
      return
    }
    const queue = peer.queue
    if (CONTROL_KINDS.has(msg.kind)) {
      if (queue.queuedBytes + size > this._opts.maxQueuedBytes + this._opts.maxControlQueuedBytes) {
        this._drop(to, peer, msg, size, DropReason.QUEUE_FULL)
        return
      }
      queue.pushControl(msg, size)
    } else {
      if (queue.queuedBytes + size > this._opts.maxQueuedBytes) {
        this._drop(to, peer, msg, size, DropReason.QUEUE_FULL)
        return
      }
      queue.pushEnvelope(msg, size)
    }
    if (peer.conn !== null) this._scheduleFlush(peer)
    else this._ensureDial(peer)
  }

  disconnect(peer: NodeAddress): void {
    const p = this._peers.get(peer.key)
    if (p === undefined) return
    this._peers.delete(peer.key)
    this._cancelRedial(p)
    for (const f of p.queue.clear()) this._drop(p.address, p, f.msg, f.size, DropReason.DISCONNECTED)
    p.dialing?.destroy(null)
    if (p.conn !== null) {
      const conn = p.conn
      p.conn = null
      this._log.debug(`disconnecting ${peer.toString()}`)
      conn.end()
      this.emit('peer-disconnected', p.address, null)
    }
  }

  stats(): TransportStats
  stats(peer: NodeAddress): PeerStats | null
  stats(peer?: NodeAddress): TransportStats | PeerStats | null {
    if (peer !== undefined) {
      const p = this._peers.get(peer.key)
      return p === undefined ? null : this._peerStats(p)
    }
    const total: TransportStats = {
      self: this.self.toString(),
      peers: 0,
      bytesIn: 0,
      bytesOut: 0,
      framesIn: 0,
      framesOut: 0,
      queuedBytes: 0,
      drops: {},
      reconnects: 0,
      handshakeFailures: this._unboundHandshakeFailures,
      rejected: { ...this._rejected },
      inboundConnections: this._inbound.size,
      dialsQueued: this._dialsQueued
    }
    for (const p of this._peers.values()) {
      const s = this._peerStats(p)
      if (s.connected) total.peers++
      total.bytesIn += s.bytesIn
      total.bytesOut += s.bytesOut
      total.framesIn += s.framesIn
      total.framesOut += s.framesOut
      total.queuedBytes += s.queuedBytes
      total.reconnects += s.reconnects
      total.handshakeFailures += s.handshakeFailures
      for (const [reason, n] of Object.entries(s.drops)) {
        total.drops[reason as DropReason] = (total.drops[reason as DropReason] ?? 0) + (n ?? 0)
      }
    }
    for (const [reason, n] of Object.entries(this._orphanDrops)) {
      total.drops[reason as DropReason] = (total.drops[reason as DropReason] ?? 0) + (n ?? 0)
    }
    return total
  }

  async shutdown(): Promise<void> {
    if (this._closing) return
    this._closing = true
    if (this._ticker !== null) clearInterval(this._ticker)
    this._ticker = null
    const server = this._server
    this._server = null
    const serverClosed = server ? server.close() : Promise.resolve()
    const deadline = Date.now() + this._opts.shutdownTimeoutMs

    for (const conn of this._inbound) if (conn.state === ConnectionState.HANDSHAKING) conn.destroy(null)
    await Promise.all([...this._peers.values()].map((peer) => this._shutdownPeer(peer, deadline)))
    // Anything still open after the flush (a peer that never ends its side) is cut.
    await Promise.all([...this._connections].map((c) => closed(c, Math.max(0, deadline - Date.now()))))
    await serverClosed
    this._log.debug('shut down')
  }

  private async _shutdownPeer(peer: Peer, deadline: number): Promise<void> {
    this._cancelRedial(peer)
    // A dial under way may still carry what was queued for it.
    if (peer.conn === null && peer.dialDone !== null && peer.queue.length > 0) {
      await within(peer.dialDone, deadline - Date.now())
    }
    const conn = peer.conn
    if (conn === null) {
      peer.dialing?.destroy(null)
      for (const f of peer.queue.clear()) this._drop(peer.address, peer, f.msg, f.size, DropReason.SHUTDOWN)
      return
    }
    const bye: WireMessage = { kind: 'goodbye', reason: 'shutdown' }
    peer.queue.pushControl(bye, messageSize(bye))
    await this._flushAndEnd(peer, conn, deadline)
  }

  // ConnectionOwner: an inbound hello. Decides which of two connections to one peer survives.
  _onhello(conn: Connection, from: NodeAddress, hello: HelloMessage): string | null {
    if (this._closing) return 'shutting down'
    const peer = this._peers.get(from.key)
    if (peer === undefined) return null
    const open = peer.conn
    if (open !== null && open !== conn) {
      // A new incarnation, or the peer redialling a connection it dialled before (it lost it;
      // this side has not noticed yet): the new one replaces the old.
      if (hello.incarnation !== open.incarnation || !open.outbound) return null
      // This side dialled and is already open: the peer's dial crossed it.
      return DUPLICATE_REASON
    }
    // Both dialling at once: the dial from the lower address wins, on both sides. (Our own dial
    // is given up only once this one has finished its handshake: see _onopen.)
    if ((peer.dialing !== null || peer.dialInFlight) && this.self.key < from.key) return DUPLICATE_REASON
    return null
  }

  _onopen(conn: Connection): void {
    const remote = conn.remote!
    // While shutting down only dials already under way open, to flush what waits for them.
    if (this._closing && !conn.outbound) {
      conn.end()
      return
    }
    const peer = this._peer(remote)
    if (conn.outbound) {
      peer.dialing = null
    } else {
      this._inbound.delete(conn)
      // The peer's dial won over ours.
      const ours = peer.dialing
      peer.dialing = null
      ours?.destroy(null)
    }
    const previous = peer.conn
    if (previous !== null && previous !== conn) {
      this._log.debug(`replacing connection to ${remote.toString()}`)
      peer.conn = null
      previous.end()
    }
    if (peer.stats.incarnation !== null && peer.stats.incarnation !== conn.incarnation) {
      this._log.info(`${remote.toString()} restarted (incarnation ${conn.incarnation})`)
      this.emit('peer-restarted', remote, conn.incarnation, peer.stats.incarnation)
    }
    if (peer.everConnected) peer.stats.reconnects++
    peer.everConnected = true
    peer.stats.incarnation = conn.incarnation
    peer.conn = conn
    peer.backoff.reset()
    this._cancelRedial(peer)
    // Queued before the peer's frame limit was known: what cannot fit it is dropped, not sent.
    for (const f of peer.queue.removeLarger(conn.peerMaxFrameBytes - FRAME_HEADER_BYTES)) {
      this._drop(remote, peer, f.msg, f.size, DropReason.TOO_LARGE)
    }
    this._log.debug(`connected ${conn.outbound ? 'to' : 'from'} ${conn.describe()}, wire version ${conn.version}`)
    this.emit('peer-connected', remote, conn.incarnation)
    this._flush(peer)
  }

  _onmessage(conn: Connection, msg: WireMessage): void {
    const peer = conn.remote === null ? undefined : this._peers.get(conn.remote.key)
    if (peer === undefined) return
    peer.stats.framesIn++
    switch (msg.kind) {
      case 'heartbeat':
        this.send(peer.address, { kind: 'heartbeat-ack', seq: msg.seq, sentAt: msg.sentAt })
        break
      case 'heartbeat-ack':
        peer.stats.rttMs = Math.max(0, now() - msg.sentAt)
        break
      case 'goodbye':
        this._log.debug(`${conn.describe()} said goodbye: ${msg.reason}`)
        return
    }
    if (msg.kind === 'envelope' && !this._mayReceive(msg.to)) {
      this._drop(peer.address, peer, msg, 0, DropReason.FORBIDDEN_RECIPIENT)
      return
    }
    const handler = this._handler
    if (handler === null) {
      this._drop(peer.address, peer, msg, 0, DropReason.NO_HANDLER)
      return
    }
    try {
      handler(peer.address, msg)
    } catch (err) {
      this._log.error(`message handler threw on a ${msg.kind} from ${peer.address.toString()}`, err)
    }
  }

  // Peers may address user actors, and of the system's only the paths this node serves.
  private _mayReceive(to: string): boolean {
    const at = to.indexOf('/system/')
    if (at === -1) return true
    return this._systemPaths.has(to.slice(at))
  }

  _ondrain(conn: Connection): void {
    const peer = conn.remote === null ? undefined : this._peers.get(conn.remote.key)
    if (peer !== undefined && peer.conn === conn) this._flush(peer)
  }

  _onclose(conn: Connection, cause: ClusterError | null): void {
    this._connections.delete(conn)
    this._inbound.delete(conn)
    const peer = conn.remote === null ? undefined : this._peers.get(conn.remote.key)
    if (cause !== null && !conn.refusedAsDuplicate) this._reject(cause, conn.describe())

    if (peer === undefined) {
      if (cause !== null && conn.state !== ConnectionState.OPEN && !conn.refusedAsDuplicate) this._unboundHandshakeFailures++
      return
    }
    if (peer.conn === conn) {
      peer.conn = null
      peer.stats.bytesIn += conn.bytesIn
      this._log.debug(`closed ${conn.describe()}${cause ? `: ${cause.message}` : ''}`)
      this.emit('peer-disconnected', peer.address, cause)
      // A dropped connection with frames still waiting is redialled after a backoff.
      if (!this._closing && peer.queue.length > 0) this._scheduleRedial(peer, peer.backoff.fail())
    } else {
      peer.stats.bytesIn += conn.bytesIn
    }
  }

  private _oninbound(socket: TcpSocket): void {
    if (this._closing || this._local === null) {
      socket.destroy(null)
      return
    }
    if (this._inbound.size >= this._opts.maxInboundConnections) {
      this._reject(ClusterError.TOO_MANY_CONNECTIONS(`more than ${this._opts.maxInboundConnections} handshaking connections`), `${socket.remoteAddress}:${socket.remotePort}`)
      socket.destroy(null)
      return
    }
    const conn = new Connection(this, socket, this._local, {
      outbound: false,
      handshakeTimeoutMs: this._opts.handshakeTimeoutMs
    })
    this._inbound.add(conn)
    this._connections.add(conn)
  }

  private _peer(address: NodeAddress): Peer {
    let peer = this._peers.get(address.key)
    if (peer === undefined) {
      peer = new Peer(address, new Backoff({ baseMs: this._opts.backoffBaseMs, maxMs: this._opts.backoffMaxMs }))
      this._peers.set(address.key, peer)
    }
    return peer
  }

  private _ensureDial(peer: Peer): void {
    if (peer.conn !== null || peer.dialing !== null || peer.dialInFlight || peer.redialTimer !== null) return
    const wait = peer.nextDialAt - Date.now()
    if (wait > 0) this._scheduleRedial(peer, wait)
    else void this._dial(peer)
  }

  private _scheduleRedial(peer: Peer, waitMs: number): void {
    this._cancelRedial(peer)
    peer.nextDialAt = Date.now() + waitMs
    peer.redialTimer = setTimeout(() => {
      peer.redialTimer = null
      if (!this._closing && this._peers.get(peer.address.key) === peer && peer.conn === null && peer.queue.length > 0) {
        void this._dial(peer)
      }
    }, waitMs)
  }

  private _cancelRedial(peer: Peer): void {
    if (peer.redialTimer !== null) clearTimeout(peer.redialTimer)
    peer.redialTimer = null
  }

  private _dial(peer: Peer): Promise<void> {
    if (this._activeDials >= this._opts.maxConcurrentDials) {
      if (!this._dialQueue.includes(peer)) {
        this._dialQueue.push(peer)
        this._dialsQueued++
      }
      return Promise.resolve()
    }
    this._activeDials++
    const done = this._dialOnce(peer).finally(() => {
      this._activeDials--
      if (peer.dialDone === done) peer.dialDone = null
      this._nextQueuedDial()
    })
    peer.dialDone = done
    return done
  }

  private _nextQueuedDial(): void {
    while (this._dialQueue.length > 0 && this._activeDials < this._opts.maxConcurrentDials) {
      const peer = this._dialQueue.shift()!
      if (!this._closing && this._peers.get(peer.address.key) === peer && peer.conn === null && peer.queue.length > 0) {
        void this._dial(peer)
      }
    }
  }

  private async _dialOnce(peer: Peer): Promise<void> {
    const local = this._local
    if (local === null) return
    peer.dialInFlight = true
    const target = peer.address
    this._log.debug(`dialling ${target.toString()}`)
    let conn: Connection
    try {
      const socket = await this.backend.connect({
        host: target.host,
        port: target.port,
        tls: this._tls,
        timeoutMs: this._opts.connectTimeoutMs
      })
      const unwanted = this._closing && peer.queue.length === 0
      if (unwanted || this._peers.get(target.key) !== peer || peer.conn !== null) {
        peer.dialInFlight = false
        socket.destroy(null)
        return
      }
      conn = new Connection(this, socket, local, {
        outbound: true,
        expected: target,
        handshakeTimeoutMs: this._opts.handshakeTimeoutMs
      })
    } catch (err) {
      peer.dialInFlight = false
      this._dialFailed(peer, asClusterError(err), false)
      return
    }
    peer.dialInFlight = false
    peer.dialing = conn
    this._connections.add(conn)
    const cause = await conn.handshake
    if (peer.dialing === conn) peer.dialing = null
    if (conn.state === ConnectionState.OPEN || conn.state === ConnectionState.CLOSING) return
    if (conn.refusedAsDuplicate) {
      // The other side kept the connection it dialled; ours only waits in case that one fails.
      if (peer.conn === null && peer.queue.length > 0 && !this._closing) this._scheduleRedial(peer, DUPLICATE_RETRY_MS)
      return
    }
    this._dialFailed(peer, cause ?? ClusterError.CONNECTION_CLOSED('closed during the handshake'), true)
  }

  private _dialFailed(peer: Peer, cause: ClusterError, duringHandshake: boolean): void {
    if (duringHandshake) peer.stats.handshakeFailures++
    if (this._closing || this._peers.get(peer.address.key) !== peer) return
    if (peer.conn !== null) return
    const wait = peer.backoff.fail()
    this._log.debug(`dial to ${peer.address.toString()} failed (${cause.message}); next in ${wait} ms`)
    if (peer.backoff.failures >= this._opts.maxDialAttempts) {
      for (const f of peer.queue.clear()) this._drop(peer.address, peer, f.msg, f.size, DropReason.UNREACHABLE)
      peer.nextDialAt = Date.now() + wait
      return
    }
    if (peer.queue.length > 0) this._scheduleRedial(peer, wait)
  }

  // On a quiet link the first send of a tick is written at once (one batch: a lone message, or the
  // first chunk of a large one), so a reply or a ping does not wait for the microtask queue; what
  // is queued after it in the same tick goes out together, control first, when the tick ends.
  // Once ticks carry several frames (a stream), every frame waits for the end of its tick, so a
  // stream pays one write a tick, not two.
  private _scheduleFlush(peer: Peer): void {
    if (peer.flushScheduled) return
    peer.flushScheduled = true
    if (!peer.streaming) this._flush(peer, 1)
    queueMicrotask(() => {
      peer.flushScheduled = false
      peer.streaming = this._flush(peer) > 1
    })
  }

  // Writes queued frames while the socket takes them, at most `maxWrites` writes; returns the
  // number of frames written.
  private _flush(peer: Peer, maxWrites = Infinity): number {
    const conn = peer.conn
    if (conn === null || conn.state !== ConnectionState.OPEN) return 0
    const batch = this._flushBatch
    let frames = 0
    for (let writes = 0; writes < maxWrites && conn.writable && peer.queue.length > 0; writes++) {
      const bytes = peer.queue.takeBatch(MAX_BATCH_BYTES, batch)
      if (batch.length === 0) break
      frames += batch.length
      peer.stats.framesOut += batch.length
      peer.stats.bytesOut += bytes
      const buffer = encodeBatch(batch, bytes)
      batch.length = 0
      if (!conn.write(buffer)) break
    }
    if (peer.queue.length === 0 && peer.onflushed !== null) {
      const onflushed = peer.onflushed
      peer.onflushed = null
      onflushed()
    }
    return frames
  }

  private async _flushAndEnd(peer: Peer, conn: Connection, deadline: number): Promise<void> {
    this._flush(peer)
    if (peer.queue.length > 0) {
      // Drain events flush the rest; wait for the last of it, the close, or the deadline.
      const flushed = new Promise<void>((resolve) => {
        peer.onflushed = resolve
      })
      await within(Promise.race([flushed, conn.closed]), deadline - Date.now())
      peer.onflushed = null
    }
    for (const f of peer.queue.clear()) this._drop(peer.address, peer, f.msg, f.size, DropReason.SHUTDOWN)
    conn.end()
    await closed(conn, Math.max(0, deadline - Date.now()))
  }

  private _ontick(): void {
    const t = Date.now()
    for (const conn of this._connections) {
      if (conn.pendingFrameBytes > 0 && t - conn.lastDataAt > this._opts.stallTimeoutMs) {
        conn.destroy(ClusterError.STALLED(`${conn.describe()} sent part of a frame and stopped`))
      }
    }
    if (this._opts.heartbeatIntervalMs <= 0) return
    for (const peer of this._peers.values()) {
      if (peer.conn === null || peer.conn.state !== ConnectionState.OPEN) continue
      if (t - peer.lastHeartbeatAt < this._opts.heartbeatIntervalMs) continue
      peer.lastHeartbeatAt = t
      this.send(peer.address, { kind: 'heartbeat', seq: ++peer.heartbeatSeq, sentAt: now() })
    }
  }

  private _peerStats(p: Peer): PeerStats {
    const s = { ...p.stats, drops: { ...p.stats.drops } }
    s.connected = p.conn !== null
    s.queuedBytes = p.queue.queuedBytes
    s.queuedFrames = p.queue.length
    if (p.conn !== null) s.bytesIn += p.conn.bytesIn
    return s
  }

  private _drop(to: NodeAddress, peer: Peer | null, msg: WireMessage, bytes: number, reason: DropReason): void {
    countDrop(peer ? peer.stats.drops : this._orphanDrops, reason)
    this._log.debug(`dropped ${msg.kind} for ${to.toString()}: ${reason}`)
    this.emit('drop', { peer: to, reason, kind: msg.kind, bytes })
  }

  private _reject(err: ClusterError, remote: string): void {
    this._rejected[err.code] = (this._rejected[err.code] ?? 0) + 1
    this._log.debug(`connection ${remote} closed: ${err.message}`)
    this.emit('connection-error', err, remote)
  }
}

// Resolves when the connection has closed or `ms` have passed, whichever is first.
function closed(conn: Connection, ms: number): Promise<void> {
  if (conn.state === ConnectionState.CLOSED) return Promise.resolve()
  return within(conn.closed, ms).then(() => {
    if (conn.state !== ConnectionState.CLOSED) conn.destroy(null)
  })
}

// Waits for `p` at most `ms`, and leaves no timer behind (a pending one would keep the process
// alive after shutdown).
function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: TimerHandle | null = null
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms))
  })
  return Promise.race([p.then(noop, noop), timeout]).finally(() => clearTimeout(timer))
}

function noop(): void {}
