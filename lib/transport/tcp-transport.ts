// TcpTransport: one connection per peer over a TcpBackend, carrying every kind of message. This
// file holds the listener, the peer table, connection limits, the pairing of connections with
// peers as they open and close, and shutdown; a peer's queue and flush are in peer.ts, one dial
// in tcp-dial.ts, which connection survives in duplicate-rule.ts, the stall and heartbeat sweep
// in ticker.ts.

import EventEmitter from 'bare-events'
import { getTcpBackend } from '../../backends/index.ts'
import type { TcpBackend, TcpServer, TcpSocket, TlsSettings } from '../../backends/types.ts'
import { resolveTls } from '../../backends/tls-settings.ts'
import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import { scopedLogger, silentLogger, type Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import type { HelloMessage, WireKind, WireMessage } from '../wire/index.ts'
import { normalizeSecret } from './auth.ts'
import { Connection, ConnectionState, type ConnectionOwner, type LocalIdentity, type ReassemblyBudget } from './connection.ts'
import { Dialer } from './dialer.ts'
import { duplicateVerdict } from './duplicate-rule.ts'
import { closed, within, type Peer, type PeerDropHandler } from './peer.ts'
import { PeerLinks } from './peer-links.ts'
import { PeerTable } from './peer-table.ts'
import { SeedNames } from './seed-names.ts'
import { dialOnce, type DialSite } from './tcp-dial.ts'
import { Ticker } from './ticker.ts'
import { frameLimit, tcpOptions, tcpSettings, type TcpSettings, type TcpTransportOptions } from './tcp-options.ts'
import { OrphanCounts, checkFits, sendSize, sumStats } from './traffic.ts'
import {
  DropReason,
  newIncarnation,
  type MessageHandler,
  type PeerStats,
  type ObservableTransport,
  type TransportEventMap,
  type TransportStats
} from './transport.ts'

export { TCP_DEFAULTS, type TcpTransportOptions } from './tcp-options.ts'

/**
 * The transport a cluster uses by default: one TCP (or TLS) connection per pair of nodes, listening
 * on `self.host:self.port` (or `listenHost`), dialling on the first send. Control traffic goes
 * before user envelopes, what is queued in a tick goes out in one write, each peer's queue is
 * bounded in bytes and whatever cannot be delivered is counted by reason and emitted as `drop`.
 * Events: `TransportEventMap`.
 */
export class TcpTransport extends EventEmitter<TransportEventMap> implements ObservableTransport, ConnectionOwner {
  self: NodeAddress
  /** The socket backend in use: the running runtime's unless `backend` was given. */
  readonly backend: TcpBackend
  /**
   * The largest frame this node accepts, and the largest it sends unless a peer asks for less.
   * @default DEFAULT_MAX_FRAME_BYTES (16 MiB)
   */
  readonly maxFrameBytes: number
  /**
   * The cluster name sent in every hello; a peer with another is refused.
   * @default self.system
   */
  readonly cluster: string
  readonly incarnation: number
  private _opts: TcpSettings
  private _secret: Uint8Array | null
  private _dialer: Dialer
  private _site: DialSite
  private _tls: TlsSettings | null
  private _listenHost: string
  private _log: Logger
  private _links: PeerLinks
  private _server: TcpServer | null
  private _peers: PeerTable
  private _inbound: Set<Connection>
  /** Open connections that peers dialled. */
  private _accepted: Set<Connection>
  private _seeds: SeedNames
  private _connections: Set<Connection>
  private _local: LocalIdentity | null
  private _started: boolean
  private _closing: boolean
  private _ticker: Ticker
  private _rejected: Partial<Record<string, number>>
  private _unboundHandshakeFailures: number
  /** Messages for which no peer state exists (sent before start or after shutdown). */
  private _orphans: OrphanCounts
  private _reassembly: ReassemblyBudget
  private _ondial: (peer: Peer) => void
  private _ondrop: PeerDropHandler

  /**
   * `new TcpTransport({ self, log, tls, secret, maxFrameBytes, backend, ... })`, or the short
   * form `new TcpTransport(self, log, tls, maxFrameBytes)`. Throws `BAD_OPTIONS` or `TLS_CONFIG`
   * on settings that cannot work; nothing listens until `start()`.
   */
  constructor(
    selfOrOptions: NodeAddress | string | TcpTransportOptions,
    log?: Logger,
    tls?: TlsSettings | null,
    maxFrameBytes?: number
  ) {
    super()
    const o = tcpOptions(selfOrOptions, log, tls, maxFrameBytes)
    this.self = typeof o.self === 'string' ? NodeAddress.parse(o.self) : o.self
    this.backend = o.backend ?? getTcpBackend()
    this.maxFrameBytes = frameLimit(o)
    this.cluster = o.cluster ?? this.self.system
    this.incarnation = newIncarnation()
    this._opts = tcpSettings(o)
    // Validate now: half-configured TLS must fail at construction, not at the first dial.
    resolveTls(o.tls)
    this._secret = normalizeSecret(o.secret)
    this._tls = o.tls ?? null
    this._listenHost = o.listenHost ?? this.self.host
    this._log = scopedLogger(o.log ?? silentLogger, 'tcp-transport')
    this._dialer = new Dialer({
      maxConcurrent: this._opts.maxConcurrentDials,
      maxAttempts: this._opts.maxDialAttempts,
      connect: (peer) => dialOnce(this._site, peer),
      current: (peer) => !this._closing && this._peers.get(peer.address.key) === peer,
      log: this._log,
      onfailed: (peer, cause) => this.emit('dial-failed', peer.address, cause)
    })
    this._server = null
    this._inbound = new Set()
    this._accepted = new Set()
    const seeds = o.seeds ?? []
    this._seeds = new SeedNames(seeds === 'any' ? 'any' : seeds.map((s) => NodeAddress.from(s, this.self.system)))
    this._connections = new Set()
    this._local = null
    this._started = false
    this._closing = false
    this._rejected = {}
    this._unboundHandshakeFailures = 0
    this._orphans = new OrphanCounts()
    this._reassembly = { held: 0, max: this._opts.maxReassemblyBytes }
    this._ondial = (peer) => {
      if (this._dialer.wanted(peer)) this._dialer.ensure(peer)
    }
    this._ondrop = (peer, kind, bytes, reason, count) => this._emitDrop(peer.address, kind, bytes, reason, count)
    this._peers = new PeerTable(this._opts, this._ondial, this._ondrop)
    this._links = new PeerLinks(this._peers, this._log, this)
    this._ticker = new Ticker(this._opts, this._connections, this._peers)
    this._site = this._dialSite()
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
    this._ticker.start()
    this._log.debug(`listening on ${this._listenHost}:${this._server.port} as ${this.self.toString()}`)
    if (this._tls !== null && this._secret === null && !this.backend.verifiesClientCertificates) {
      this._log.warn(
        `${this.backend.name}'s TLS listener does not check client certificates: anyone can connect; set a cluster secret to keep strangers out`
      )
    }
  }

  setHandler(handler: MessageHandler): void {
    this._links.setHandler(handler)
  }

  peers(): NodeAddress[] {
    const out: NodeAddress[] = []
    for (const peer of this._peers.values()) if (peer.conn !== null) out.push(peer.address)
    return out
  }

  send(to: NodeAddress, msg: WireMessage): void {
    to = this._seeds.resolve(to)
    const size = sendSize(msg)
    const peer = this._closing || !this._started ? null : this._peer(to)
    checkFits(msg, size, peer?.conn?.peerMaxFrameBytes ?? this.maxFrameBytes, to)
    if (peer === null) {
      const reason = this._closing ? DropReason.SHUTDOWN : DropReason.UNREACHABLE
      this._orphans.sent(msg.kind, reason)
      this._emitDrop(to, msg.kind, size, reason, 1)
      return
    }
    peer.send(msg, size)
  }

  heartbeat(peer: NodeAddress, withinMs = 0): void {
    peer = this._seeds.resolve(peer)
    // Not running: counted as a drop, as any send then is.
    if (this._closing || !this._started) this.send(peer, { kind: 'heartbeat', seq: 0, sentAt: now() })
    else this._peer(peer).heartbeat(withinMs)
  }

  refuse(from: NodeAddress, msg: WireMessage, reason: DropReason): void {
    const peer = this._peers.get(from.key)
    if (peer !== undefined) {
      peer.refused(msg, reason)
    } else {
      this._orphans.refused(reason)
      this._emitDrop(from, msg.kind, 0, reason, 1)
    }
  }

  disconnect(peer: NodeAddress): void {
    peer = this._seeds.resolve(peer)
    const p = this._peers.get(peer.key)
    if (p === undefined) return
    this._peers.remove(p)
    p.cancelRedial()
    p.clear(DropReason.DISCONNECTED)
    p.dialing?.destroy(null)
    const conn = p.conn
    if (conn !== null) p.detach(conn)
    this._peers.retire(p)
    if (conn !== null) {
      this._log.debug(`disconnecting ${peer.toString()}`)
      conn.end()
      this.emit('peer-disconnected', p.address, null)
    }
  }

  stats(): TransportStats
  stats(peer: NodeAddress): PeerStats | null
  stats(peer?: NodeAddress): TransportStats | PeerStats | null {
    if (peer !== undefined) return this._peers.get(this._seeds.resolve(peer).key)?.snapshot() ?? null
    const base = {
      self: this.self.toString(),
      queuedBytes: 0,
      drops: {},
      handshakeFailures: this._unboundHandshakeFailures,
      rejected: { ...this._rejected },
      inboundConnections: this._inbound.size,
      knownPeers: this._peers.size,
      reassemblyBytes: this._reassembly.held,
      dialsQueued: this._dialer.queued,
      delivery: this._orphans.deliveryCopy()
    }
    return sumStats(base, this._peers.snapshots(), this._orphans.drops)
  }

  async shutdown(): Promise<void> {
    if (this._closing) return
    this._closing = true
    this._ticker.stop()
    const server = this._server
    this._server = null
    const serverClosed = server ? server.close() : Promise.resolve()
    const deadline = now() + this._opts.shutdownTimeoutMs

    for (const conn of this._inbound) if (conn.state === ConnectionState.HANDSHAKING) conn.destroy(null)
    await Promise.all([...this._peers.values()].map((peer) => this._shutdownPeer(peer, deadline)))
    // Anything still open after the flush (a peer that never ends its side) is cut.
    await Promise.all([...this._connections].map((c) => closed(c, deadline - now())))
    await serverClosed
    this._log.debug('shut down')
  }

  private async _shutdownPeer(peer: Peer, deadline: number): Promise<void> {
    peer.cancelRedial()
    // A dial under way may still carry what was queued for it.
    if (peer.conn === null && peer.dialDone !== null && peer.pending) {
      await within(peer.dialDone, deadline - now())
    }
    const conn = peer.conn
    if (conn === null) {
      peer.dialing?.destroy(null)
      peer.clear(DropReason.SHUTDOWN)
      return
    }
    await peer.flushAndEnd(conn, deadline)
  }

  /**
   * ConnectionOwner: an inbound hello. Decides which of two connections to one peer survives.
   * @internal
   */
  _onhello(conn: Connection, from: NodeAddress, hello: HelloMessage): string | ClusterError | null {
    if (this._closing) return 'shutting down'
    const peer = this._peers.get(from.key)
    // A connection that would replace this peer's adds none.
    if (this._accepted.size >= this._opts.maxConnections && peer?.conn == null) {
      return ClusterError.TOO_MANY_CONNECTIONS(`${this._accepted.size} connections from peers already open (maxConnections)`)
    }
    return duplicateVerdict({ self: this.self, secret: this._secret !== null, log: this._log }, conn, from, hello, peer)
  }

  /** @internal */
  _delivered(remote: NodeAddress): { incarnation: number; delivered: number } | null {
    return this._links.delivered(remote)
  }

  /** @internal */
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
      this._accepted.add(conn)
      // The peer's dial won over ours.
      const ours = peer.dialing
      peer.dialing = null
      ours?.destroy(null)
    }
    // A seed dialled by its address turned out to be this peer: what waited for the address is its.
    const expected = conn.outbound ? conn.expected : null
    const named = expected !== null && !expected.equals(remote) ? () => this._seeds.named(expected, peer, this._peers, this._log) : null
    this._links.opened(peer, conn, named)
  }

  /** @internal */
  _onmessage(conn: Connection, msg: WireMessage): void {
    this._links.message(conn, msg)
  }

  /** @internal */
  _ondrain(conn: Connection): void {
    this._links.drain(conn)
  }

  /** @internal */
  _onclose(conn: Connection, cause: ClusterError | null): void {
    this._connections.delete(conn)
    this._inbound.delete(conn)
    this._accepted.delete(conn)
    const peer = conn.remote === null ? undefined : this._peers.get(conn.remote.key)
    if (cause !== null && !conn.refusedAsDuplicate) this._reject(cause, conn.describe())
    if (peer === undefined) {
      if (cause !== null && conn.state !== ConnectionState.OPEN && !conn.refusedAsDuplicate) this._unboundHandshakeFailures++
      return
    }
    if (!this._links.closed(peer, conn, cause)) return
    // A dropped connection with frames still waiting is redialled after a backoff.
    if (!this._closing && peer.pending) peer.scheduleRedial(peer.backoff.fail())
  }

  private _oninbound(socket: TcpSocket): void {
    if (this._closing || this._local === null) {
      socket.destroy(null)
      return
    }
    if (this._inbound.size >= this._opts.maxInboundConnections) {
      const err = ClusterError.TOO_MANY_CONNECTIONS(`more than ${this._opts.maxInboundConnections} handshaking connections`)
      this._reject(err, `${socket.remoteAddress}:${socket.remotePort}`)
      socket.destroy(null)
      return
    }
    const conn = new Connection(this, socket, this._local, {
      outbound: false,
      handshakeTimeoutMs: this._opts.handshakeTimeoutMs,
      reassembly: this._reassembly
    })
    this._inbound.add(conn)
    this._connections.add(conn)
  }

  private _peer(address: NodeAddress): Peer {
    return this._peers.ensure(address)
  }

  private _dialSite(): DialSite {
    return {
      backend: this.backend,
      tls: this._tls,
      connectTimeoutMs: this._opts.connectTimeoutMs,
      handshakeTimeoutMs: this._opts.handshakeTimeoutMs,
      reassembly: this._reassembly,
      owner: this,
      dialer: this._dialer,
      log: this._log,
      local: () => this._local,
      closing: () => this._closing,
      current: (peer) => this._peers.get(peer.address.key) === peer,
      isSeed: (address) => this._seeds.isSeed(address),
      track: (conn) => this._connections.add(conn)
    }
  }

  private _emitDrop(to: NodeAddress, kind: WireKind, bytes: number, reason: DropReason, count: number): void {
    this._log.debug(`dropped ${count === 1 ? kind : `${count} messages`} for ${to.toString()}: ${reason}`)
    this.emit('drop', count === 1 ? { peer: to, reason, kind, bytes } : { peer: to, reason, kind, bytes, count })
  }

  private _reject(err: ClusterError, remote: string): void {
    this._rejected[err.code] = (this._rejected[err.code] ?? 0) + 1
    this._log.debug(`connection ${remote} closed: ${err.message}`)
    this.emit('connection-error', err, remote)
  }
}
