// SwarmTransport: the cluster over hyperswarm. Nodes meet on a topic, every connection is
// encrypted by Noise, and a node is named by its public key (`actor-cluster+hs://app@<key>`).
// What runs over a connection is what runs over TCP: the same Connection (framing, handshake,
// chunk reassembly) and the same Peer (lanes, bounded queue, coalesced writes, heartbeats, stats).
// Only how connections come and go differs: hyperswarm brings them (found on the topic, or asked
// for by key when there is something to send), and the newest one to finish our handshake wins.

import EventEmitter from 'bare-events'
import b4a from 'b4a'
import { generateKeyPairBytes, signingKeyPairOf, type KeyPairBytes, type SigningKeyPair } from '../../backends/crypto.ts'
import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import { scopedLogger, silentLogger, type Logger } from '../logger.ts'
import { NodeAddress, isSystemName } from '../node-address.ts'
import { encodeZ32 } from '../z-base-32.ts'
import type { HelloMessage, WireKind, WireMessage } from '../wire/index.ts'
import { normalizeSecret } from './auth.ts'
import { Connection, ConnectionState, type ConnectionOwner, type LocalIdentity, type ReassemblyBudget } from './connection.ts'
import { closed, within, type Peer } from './peer.ts'
import { PeerLinks } from './peer-links.ts'
import { PeerTable } from './peer-table.ts'
import { closeSwarm, openSwarm, type OpenedSwarm } from './swarm-adapter.ts'
import { DiscoverySchedule } from './swarm-discovery.ts'
import { SWARM_DEFAULTS, allowPredicate, positiveMs, topicBytes, type SwarmLike, type SwarmTransportOptions } from './swarm-options.ts'
import { SwarmSocket, type SwarmConnection } from './swarm-socket.ts'
import { frameLimit, tcpSettings, type TcpSettings } from './tcp-options.ts'
import { Ticker } from './ticker.ts'
import { OrphanCounts, checkFits, sendSize, sumStats } from './traffic.ts'
import {
  DropReason,
  newIncarnation,
  type MessageHandler,
  type ObservableTransport,
  type PeerStats,
  type TransportEventMap,
  type TransportStats
} from './transport.ts'

export { SWARM_DEFAULTS, publicKeyOf, topicBytes, type SwarmTransportOptions } from './swarm-options.ts'

// Runs of removed members remembered, so their hellos stay refused; the oldest go first.
const MAX_EXCLUDED = 4096
const UNNAMED = 'unnamed'
// A connection asked for by key comes in tens of milliseconds when the peer is there; an ask
// counts as failed only after this long.
const ASK_WAIT_MS = 500

/**
 * The Transport over hyperswarm: every node on `topic` is a peer, named by its public key
 * (`actor-cluster+hs://<system>@<key>`); give it to `Cluster.join(system, { transport })`.
 */
export class SwarmTransport extends EventEmitter<TransportEventMap> implements ObservableTransport, ConnectionOwner {
  self: NodeAddress
  /** Name both sides must agree on in the handshake (the system's name unless `cluster` is set). */
  cluster: string
  /** Longest frame sent or accepted (16 MiB unless `maxFrameBytes` is set). */
  readonly maxFrameBytes: number
  readonly incarnation: number
  readonly discovers: boolean
  /** The 32-byte topic every node of the cluster joins. */
  readonly topic: Uint8Array
  /** This node's identity: its public key is its address. */
  readonly keyPair: KeyPairBytes
  readonly signingKeyPair: SigningKeyPair
  /** The Hyperswarm under the transport, once started. */
  swarm: SwarmLike | null
  private _o: SwarmTransportOptions
  private _opts: TcpSettings
  private _keepAliveMs: number
  private _deadAfterMs: number
  private _unansweredHelloMs: number
  private _namedSystem: boolean
  private _namedCluster: boolean
  private _secret: Uint8Array | null
  private _allow: ((publicKey: Uint8Array) => boolean) | null
  private _log: Logger
  private _links: PeerLinks
  private _peers: PeerTable
  private _connections: Set<Connection>
  private _linked: Set<Connection>
  /** Removed members' last incarnations, by address key. */
  private _excluded: Map<string, number>
  /** Dials in a row that nothing answered, by peer key: each waits twice as long as the last. */
  private _unanswered: Map<string, number>
  private _local: LocalIdentity | null
  private _opened: OpenedSwarm | null
  private _discovery: DiscoverySchedule
  private _onconnection: (conn: SwarmConnection, info: unknown) => void
  private _started: boolean
  private _closing: boolean
  private _ticker: TimerHandle | null
  private _housekeeping: Ticker
  private _rejected: Partial<Record<string, number>>
  private _unboundHandshakeFailures: number
  /** Messages for which no peer state exists (sent before start or after shutdown). */
  private _orphans: OrphanCounts
  private _reassembly: ReassemblyBudget

  /** Throws BAD_OPTIONS for a bad topic, key pair or option; nothing is loaded until start(). */
  constructor(o: SwarmTransportOptions) {
    super()
    if (o === null || typeof o !== 'object') throw ClusterError.BAD_OPTIONS('SwarmTransport takes an options object with a topic')
    this._o = o
    this.topic = topicBytes(o.topic)
    if (o.swarm != null && o.keyPair !== undefined && !b4a.equals(o.swarm.keyPair.publicKey, o.keyPair.publicKey)) {
      throw ClusterError.BAD_OPTIONS("keyPair differs from the given swarm's key pair")
    }
    // A swarm of the caller's own: its key is this node's identity.
    this.keyPair = o.swarm?.keyPair ?? o.keyPair ?? generateKeyPairBytes()
    try {
      this.signingKeyPair = signingKeyPairOf(this.keyPair)
    } catch (err) {
      throw ClusterError.BAD_OPTIONS(`keyPair: ${err instanceof Error ? err.message : String(err)}`)
    }
    if (o.system !== undefined && !isSystemName(o.system)) throw ClusterError.BAD_OPTIONS(`bad system name ${JSON.stringify(o.system)}`)
    this._namedSystem = o.system !== undefined
    this._namedCluster = o.cluster !== undefined
    this.self = NodeAddress.ofKey(o.system ?? UNNAMED, this.keyPair.publicKey)
    this.cluster = o.cluster ?? this.self.system
    this.maxFrameBytes = frameLimit({ ...o, self: this.self })
    this.incarnation = newIncarnation()
    this.discovers = true
    this.swarm = null
    // Our hello on a connection hyperswarm calls open sometimes goes unanswered (the other side
    // never saw it): waiting less than over TCP gets the next connection sooner.
    this._opts = tcpSettings({ ...o, self: this.self, handshakeTimeoutMs: o.handshakeTimeoutMs ?? SWARM_DEFAULTS.handshakeTimeoutMs })
    this._keepAliveMs = positiveMs(o.keepAliveMs, SWARM_DEFAULTS.keepAliveMs, 'keepAliveMs')
    this._deadAfterMs = positiveMs(o.deadAfterMs, SWARM_DEFAULTS.deadAfterMs, 'deadAfterMs')
    this._unansweredHelloMs = Math.min(positiveMs(o.unansweredHelloMs, SWARM_DEFAULTS.unansweredHelloMs, 'unansweredHelloMs'), this._opts.handshakeTimeoutMs)
    const refreshIntervalMs = positiveMs(o.refreshIntervalMs, SWARM_DEFAULTS.refreshIntervalMs, 'refreshIntervalMs')
    this._secret = normalizeSecret(o.secret)
    this._allow = allowPredicate(o.allow ?? null)
    this._log = scopedLogger(o.log ?? silentLogger, 'swarm-transport')
    this._connections = new Set()
    this._linked = new Set()
    this._excluded = new Map()
    this._unanswered = new Map()
    this._local = null
    this._opened = null
    this._discovery = new DiscoverySchedule(refreshIntervalMs, SWARM_DEFAULTS.maxRefreshIntervalMs, this._log)
    this._onconnection = (conn) => this._onswarmconnection(conn)
    this._started = false
    this._closing = false
    this._ticker = null
    this._rejected = {}
    this._unboundHandshakeFailures = 0
    this._orphans = new OrphanCounts()
    this._reassembly = { held: 0, max: this._opts.maxReassemblyBytes }
    this._peers = new PeerTable(
      this._opts,
      (peer) => this._want(peer),
      (peer, kind, bytes, reason, count) => this._emitDrop(peer.address, kind, bytes, reason, count)
    )
    this._links = new PeerLinks(this._peers, this._log, this)
    this._housekeeping = new Ticker(this._opts, this._connections, this._peers)
  }

  /** This node's public key (32 bytes). */
  get publicKey(): Uint8Array {
    return this.keyPair.publicKey
  }

  bindSystem(name: string): void {
    if (this._namedSystem) {
      if (name !== this.self.system) throw ClusterError.BAD_OPTIONS(`this transport is for system ${JSON.stringify(this.self.system)}, not ${JSON.stringify(name)}`)
      return
    }
    if (this._started) throw ClusterError.BAD_OPTIONS('the system is named before the transport starts')
    this.self = NodeAddress.ofKey(name, this.keyPair.publicKey)
    if (!this._namedCluster) this.cluster = name
    this._namedSystem = true
  }

  async start(): Promise<void> {
    if (this._started) return
    if (!this._namedSystem) throw ClusterError.BAD_OPTIONS('SwarmTransport needs a system name: pass `system`, or start it through Cluster.join')
    this._started = true
    this._local = {
      address: this.self,
      cluster: this.cluster,
      incarnation: this.incarnation,
      maxFrameBytes: this.maxFrameBytes,
      secret: this._secret
    }
    const opened = await openSwarm(this._o, this.keyPair, (key) => this._firewalled(key))
    this._opened = opened
    const swarm = opened.swarm
    this.swarm = swarm
    swarm.on('connection', this._onconnection)
    const tick = Math.max(50, Math.min(this._opts.heartbeatIntervalMs || 1000, this._opts.stallTimeoutMs / 2, 250))
    this._ticker = setInterval(() => this._ontick(), tick)
    const discovery = swarm.join(this.topic, { client: true, server: true })
    await discovery.flushed()
    this._discovery.start(discovery, now())
    this._log.debug(`on topic ${b4a.toString(this.topic, 'hex').slice(0, 16)}... as ${this.self.toString()}`)
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
    const size = sendSize(msg)
    const peer = this._closing || !this._started ? null : this._peers.ensure(to)
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
    if (this._closing || !this._started) this.send(peer, { kind: 'heartbeat', seq: 0, sentAt: now() })
    else this._peers.ensure(peer).heartbeat(withinMs)
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
    const p = this._peers.get(peer.key)
    if (peer.publicKey !== null && this.swarm !== null) this.swarm.leavePeer(peer.publicKey)
    if (p === undefined) return
    this._peers.remove(p)
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

  exclude(peer: NodeAddress): void {
    const incarnation = this._peers.get(peer.key)?.stats.incarnation ?? null
    if (incarnation !== null) {
      if (this._excluded.size >= MAX_EXCLUDED) this._excluded.delete(this._excluded.keys().next().value!)
      this._excluded.set(peer.key, incarnation)
      this._log.debug(`${peer.toString()} (incarnation ${incarnation}) is out`)
    }
    this.disconnect(peer)
  }

  stats(): TransportStats
  stats(peer: NodeAddress): PeerStats | null
  stats(peer?: NodeAddress): TransportStats | PeerStats | null {
    if (peer !== undefined) return this._peers.get(peer.key)?.snapshot() ?? null
    let handshaking = 0
    for (const c of this._connections) if (c.state === ConnectionState.HANDSHAKING) handshaking++
    const base = {
      self: this.self.toString(),
      queuedBytes: 0,
      drops: {},
      handshakeFailures: this._unboundHandshakeFailures,
      rejected: { ...this._rejected },
      inboundConnections: handshaking,
      knownPeers: this._peers.size,
      reassemblyBytes: this._reassembly.held,
      dialsQueued: 0,
      delivery: this._orphans.deliveryCopy()
    }
    return sumStats(base, this._peers.snapshots(), this._orphans.drops)
  }

  /**
   * Flushes what is queued (bounded by shutdownTimeoutMs), says goodbye on every connection,
   * leaves the topic (unannouncing this node) and destroys the swarm it made.
   */
  async shutdown(): Promise<void> {
    if (this._closing) return
    this._closing = true
    if (this._ticker !== null) clearInterval(this._ticker)
    this._ticker = null
    const deadline = now() + this._opts.shutdownTimeoutMs
    for (const conn of this._connections) if (conn.state === ConnectionState.HANDSHAKING) conn.destroy(null)
    await Promise.all([...this._peers.values()].map((peer) => this._shutdownPeer(peer, deadline)))
    await Promise.all([...this._connections].map((c) => closed(c, deadline - now())))
    const opened = this._opened
    if (opened === null) return
    // Unannounces this node, so the others stop finding it.
    const discovery = this._discovery.stop()
    if (discovery !== null) await within(discovery.destroy(), Math.max(1000, deadline - now()))
    await closeSwarm(opened, this._o.dht != null, deadline - now())
    const swarm = opened.swarm
    // Only now: a connection hyperswarm brings meanwhile is closed by it, and one left without an
    // error listener would take the process down when the other side resets it.
    swarm.removeListener('connection', this._onconnection)
    this._log.debug('shut down')
  }

  private async _shutdownPeer(peer: Peer, deadline: number): Promise<void> {
    const conn = peer.conn
    if (conn === null) {
      peer.dialing?.destroy(null)
      peer.clear(DropReason.SHUTDOWN)
      return
    }
    await peer.flushAndEnd(conn, deadline)
  }

  /**
   * ConnectionOwner: a hello on a connection the other side opened. Its address must be the
   * connection's own key; a removed member's run stays out.
   * @internal
   */
  _onhello(conn: Connection, from: NodeAddress, hello: HelloMessage): string | ClusterError | null {
    if (this._closing) return 'shutting down'
    const key = streamOf(conn).remotePublicKey
    if (from.publicKey === null || !b4a.equals(from.publicKey, key)) {
      return ClusterError.KEY_MISMATCH(`a peer holding key ${encodeZ32(key)} said hello as ${from.toString()}`)
    }
    return this._stillOut(from, hello.incarnation)
  }

  /** @internal */
  _delivered(remote: NodeAddress): { incarnation: number; delivered: number } | null {
    return this._links.delivered(remote)
  }

  /** @internal */
  _onopen(conn: Connection): void {
    const remote = conn.remote!
    if (this._closing) {
      conn.end()
      return
    }
    const out = this._stillOut(remote, conn.incarnation)
    if (out !== null) {
      conn.destroy(out)
      return
    }
    this._excluded.delete(remote.key)
    this._unanswered.delete(remote.key)
    this._linked.add(conn)
    const peer = this._peers.ensure(remote)
    if (peer.dialing === conn) peer.dialing = null
    this._discovery.connected()
    // Hyperswarm replaced the connection (a crossing dial, or the peer came back): the newest one
    // that finished our handshake carries the traffic; the old one ends after its writes.
    this._links.opened(peer, conn)
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
    const linked = this._linked.delete(conn)
    const remote = conn.remote ?? conn.expected
    const peer = remote === null ? undefined : this._peers.get(remote.key)
    if (peer !== undefined && peer.dialing === conn) peer.dialing = null
    if (cause !== null) this._reject(cause, conn.describe())
    if (!linked && cause !== null) {
      // The handshake failed or timed out (a half-open connection, say): hyperswarm or the next
      // send brings another one.
      if (peer !== undefined) peer.stats.handshakeFailures++
      else this._unboundHandshakeFailures++
      if (remote !== null && conn.outbound) this.emit('dial-failed', remote, cause)
    }
    if (peer === undefined || !this._links.closed(peer, conn, cause)) return
    if (!this._closing && peer.pending) this._want(peer)
  }

  /** A connection hyperswarm brought: our handshake runs on it before anything else does. */
  private _onswarmconnection(stream: SwarmConnection): void {
    const local = this._local
    if (this._closing || local === null) {
      stream.on('error', noop)
      stream.destroy()
      return
    }
    const key = stream.remotePublicKey
    // With a swarm of the caller's own the firewall is theirs: the allow-list is checked here.
    if (this._firewalled(key)) {
      stream.on('error', noop)
      stream.destroy()
      return
    }
    stream.setKeepAlive(this._keepAliveMs)
    stream.setTimeout(this._deadAfterMs)
    const remote = NodeAddress.ofKey(this.self.system, key)
    const outbound = stream.isInitiator
    this._log.debug(`hyperswarm brought a connection ${outbound ? 'to' : 'from'} ${remote.toString()}`)
    const conn = new Connection(this, new SwarmSocket(stream, this._deadAfterMs), local, {
      outbound,
      expected: outbound ? remote : null,
      handshakeTimeoutMs: this._opts.handshakeTimeoutMs,
      reassembly: this._reassembly
    })
    this._connections.add(conn)
    if (outbound && conn.state === ConnectionState.HANDSHAKING) {
      const peer = this._peers.ensure(remote)
      if (peer.conn === null && peer.dialing === null) peer.dialing = conn
      this._awaitAnswer(conn, remote)
    }
  }

  /**
   * Our hello went out on a connection this node opened: with nothing back from the other side
   * in unansweredHelloMs, it never saw the connection. Closing it lets the other side's own dial
   * in (hyperswarm refuses that as a duplicate while ours is pending) and asks for another. Each
   * unanswered dial in a row to the same peer waits twice as long (up to the handshake timeout),
   * so a peer that is only far away is still reached.
   */
  private _awaitAnswer(conn: Connection, remote: NodeAddress): void {
    const before = this._unanswered.get(remote.key) ?? 0
    const ms = Math.min(this._unansweredHelloMs * 2 ** Math.min(before, 8), this._opts.handshakeTimeoutMs)
    const timer = setTimeout(() => {
      if (conn.state !== ConnectionState.HANDSHAKING || conn.bytesIn > 0) return
      if (this._unanswered.size >= MAX_EXCLUDED) this._unanswered.clear()
      this._unanswered.set(remote.key, before + 1)
      conn.destroy(ClusterError.HANDSHAKE_TIMEOUT(`nothing from ${conn.describe()} in ${ms} ms after the hello: the other side never saw the connection`))
    }, ms)
    void conn.handshake.then(() => clearTimeout(timer))
  }

  /** Whether hyperswarm must keep `key` out; a refusal is counted (AUTH_FAILED). */
  private _firewalled(key: Uint8Array): boolean {
    if (this._allow === null) return false
    let allowed = false
    try {
      allowed = this._allow(key) === true
    } catch (err) {
      this._log.error('the allow predicate threw; the key is refused', err)
    }
    if (allowed) return false
    this._reject(ClusterError.AUTH_FAILED(`key ${encodeZ32(key)} is not allowed in this cluster`), encodeZ32(key))
    return true
  }

  /** A removed member's run (or an older one) is refused; a later incarnation is a restart. */
  private _stillOut(from: NodeAddress, incarnation: number): ClusterError | null {
    const last = this._excluded.get(from.key)
    if (last === undefined || incarnation > last) return null
    return ClusterError.STALE_INCARNATION(`${from.toString()} was removed from the cluster; only a restart (a later incarnation) comes back`)
  }

  /**
   * The peer has frames queued and no connection: ask hyperswarm for one by key, again after
   * each backoff (the tick retries), and after maxDialAttempts asks with nothing to show drop
   * what waits as unreachable.
   */
  private _want(peer: Peer): void {
    if (this._closing || !this._started || peer.conn !== null || this.swarm === null) return
    if (this._peers.get(peer.address.key) !== peer) return
    const key = peer.address.publicKey
    if (key === null || peer.address.system !== this.self.system) {
      peer.clear(DropReason.UNREACHABLE)
      return
    }
    if (b4a.equals(key, this.keyPair.publicKey)) {
      peer.clear(DropReason.UNREACHABLE)
      return
    }
    if (this._excluded.has(peer.address.key)) {
      peer.clear(DropReason.UNREACHABLE)
      return
    }
    const t = now()
    if (t < peer.nextDialAt || peer.dialing !== null) return
    if (peer.backoff.failures >= this._opts.maxDialAttempts) {
      this._log.debug(`no connection to ${peer.address.toString()} after ${peer.backoff.failures} asks; dropping what waits for it`)
      peer.clear(DropReason.UNREACHABLE)
      peer.backoff.reset()
      return
    }
    const again = peer.backoff.failures > 0
    peer.nextDialAt = t + Math.max(ASK_WAIT_MS, peer.backoff.fail())
    // Hyperswarm stops trying a peer asked for by key after a few failed attempts; leaving and
    // joining it again starts its count afresh.
    if (again) this.swarm.leavePeer(key)
    this.swarm.joinPeer(key)
  }

  private _ontick(): void {
    const t = now()
    // Stalled frames, idle peers, heartbeats: as on TCP.
    this._housekeeping.tick()
    let connected = 0
    let wanting = 0
    for (const peer of this._peers.values()) {
      if (peer.conn !== null) {
        connected++
      } else if (peer.pending) {
        wanting++
        this._want(peer)
      }
    }
    this._discovery.tick(t, wanting, connected)
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

function streamOf(conn: Connection): SwarmConnection {
  return (conn.socket as SwarmSocket).stream
}

function noop(): void {}
