// What a node says about its surroundings: a peer it cannot talk to because the two are set up
// differently (another cluster name, a secret on one side only, TLS on one side only, no common
// wire version) is a warning, once per peer and cause, naming what differs and how to fix it;
// a seed that cannot be reached, and members becoming unreachable or reachable again, are info.
// It also remembers what each seed last answered, for the error `ready()` gives.

import type { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'
import type { ObservableTransport } from '../transport/transport.ts'
import type { Member } from './membership.ts'

// Peers and causes remembered as told; past this many, the oldest are forgotten (a stranger
// cycling addresses must not grow memory, only repeat a line now and then).
const MAX_TOLD = 1024
const MAX_ANSWER_CHARS = 300
// What TLS libraries say when the other side does not speak TLS (OpenSSL, BoringSSL, rustls, Bare).
const TLS_WORDS = /TLS|SSL|secure|wrong version|record|alert|handshake|certificate|packet length/i

const FIX: Partial<Record<string, string>> = {
  CLUSTER_MISMATCH: 'nodes of one cluster must use the same name (ActorSystem.create(name) or the cluster option)',
  AUTH_FAILED: 'give every node of the cluster the same `secret`',
  BAD_VERSION: 'run versions of actor-cluster-bare that share a wire version',
  TLS_MISMATCH: 'set `tls` on every node of the cluster or on none'
}

interface ClusterEvents {
  on(event: 'member-unreachable' | 'member-reachable', fn: (m: Member) => void): unknown
  off(event: 'member-unreachable' | 'member-reachable', fn: (m: Member) => void): unknown
}

export class Diagnostics {
  private _log: Logger
  private _transport: ObservableTransport
  private _cluster: ClusterEvents
  private _seeds: NodeAddress[]
  private _self: () => NodeAddress
  private _answers: Map<string, string>
  private _told: Set<string>
  // This node runs TLS (so failures inside a TLS handshake point at a peer without it).
  private _tls: boolean
  private _onerror: (err: ClusterError, remote: string) => void
  private _ondial: (peer: NodeAddress, cause: ClusterError) => void
  private _onpeer: (peer: NodeAddress) => void
  private _clusterListeners: ['member-unreachable' | 'member-reachable', (m: Member) => void][]

  constructor(cluster: ClusterEvents, transport: ObservableTransport, seeds: NodeAddress[], log: Logger, self: () => NodeAddress, tls = false) {
    this._log = log
    this._tls = tls
    this._transport = transport
    this._cluster = cluster
    this._seeds = seeds
    this._self = self
    this._answers = new Map()
    this._told = new Set()
    this._onerror = (err, remote) => this._onconnectionerror(err, remote)
    this._ondial = (peer, cause) => this._ondialfailed(peer, cause)
    this._onpeer = (peer) => this._onconnected(peer)
    this._clusterListeners = [
      ['member-unreachable', (m) => this._log.info(`${m.address.toString()} is unreachable: no heartbeat answered in time`)],
      ['member-reachable', (m) => this._log.info(`${m.address.toString()} is reachable again`)]
    ]
    transport.on('connection-error', this._onerror)
    transport.on('dial-failed', this._ondial)
    transport.on('peer-connected', this._onpeer)
    for (const [event, fn] of this._clusterListeners) cluster.on(event, fn)
  }

  close(): void {
    this._transport.off('connection-error', this._onerror)
    this._transport.off('dial-failed', this._ondial)
    this._transport.off('peer-connected', this._onpeer)
    for (const [event, fn] of this._clusterListeners) this._cluster.off(event, fn)
  }

  /** What each seed answered last, e.g. `127.0.0.1:4101 (connection refused)`. */
  seedAnswers(): string[] {
    return this._seeds
      .filter((s) => !s.equals(this._self()))
      .map((s) => `${s.host}:${s.port} (${this._answers.get(s.key) ?? 'no answer'})`)
  }

  /** The seeds have not let this node in yet: said once, at info, with what they answered. */
  firstSeedRetry(waitMs: number): void {
    if (!this._tell('seed-retry')) return
    this._log.info(`not in the cluster yet; seeds tried: ${this.seedAnswers().join(', ')}; asking again (every ${waitMs} ms and slower)`)
  }

  private _seedOf(remote: string): NodeAddress | null {
    for (const s of this._seeds) if (remote === s.toString() || remote.startsWith(s.toString() + ' ')) return s
    return null
  }

  private _onconnected(peer: NodeAddress): void {
    for (const s of this._seeds) if (s.equals(peer)) this._answers.set(s.key, 'connected')
  }

  private _ondialfailed(peer: NodeAddress, cause: ClusterError): void {
    // This node's TLS dial failing inside the TLS handshake: most likely a peer without TLS.
    if (this._tls && cause.code === 'CONNECT_FAILED' && TLS_WORDS.test(cause.message)) {
      this._warn('TLS_MISMATCH', hostPort(peer), `peer ${hostPort(peer)} did not complete a TLS handshake (${plain(cause)}): does it run without tls?`)
    }
    const seed = this._seeds.find((s) => s.equals(peer))
    if (seed === undefined) return
    const reason = plain(cause)
    this._answers.set(seed.key, reason)
    if (causeOf(cause, this._tls) === null && this._tell(`unreachable-seed ${seed.key}`)) {
      this._log.info(`seed ${seed.host}:${seed.port} cannot be reached (${reason}); trying again with backoff`)
    }
  }

  private _onconnectionerror(err: ClusterError, remote: string): void {
    const seed = this._seedOf(remote)
    const cause = causeOf(err, this._tls)
    if (seed !== null) this._answers.set(seed.key, plain(err))
    if (cause === null) return
    const text = plain(err)
    if (cause === 'TLS_MISMATCH' && (err.code === 'SOCKET_ERROR' || err.code === 'CONNECT_FAILED')) {
      // The TLS layer refused what came in: the dialler most likely runs without TLS.
      const from = remote.includes(':') ? `a connection from ${remote}` : remote
      this._warn(cause, peerOf(remote), `${from} was not TLS (${text.slice(0, 120)}): does that node run without tls?`)
      return
    }
    // Inbound refusals name the peer by the address it claims when there is one; the port seen
    // is ephemeral, so the rest are told once per host.
    const key = remote.includes('://') || text.includes(remote) ? peerOf(remote) : text
    this._warn(cause, key, text.startsWith('peer ') ? text : `peer ${remote}: ${text}`)
  }

  // A warning, once per cause and peer, with the fix.
  private _warn(cause: string, peer: string, text: string): void {
    if (!this._tell(`${cause} ${peer}`)) return
    const fix = FIX[cause]
    this._log.warn(`${text}${fix === undefined ? '' : `; ${fix}`}`)
  }

  /** True the first time a key is told. */
  private _tell(key: string): boolean {
    if (this._told.has(key)) return false
    if (this._told.size >= MAX_TOLD) this._told.delete(this._told.values().next().value!)
    this._told.add(key)
    return true
  }
}

// The misconfiguration an error shows, or null for the others (garbage, timeouts: debug lines).
function causeOf(err: ClusterError, tls: boolean): string | null {
  switch (err.code) {
    case 'CLUSTER_MISMATCH':
    case 'AUTH_FAILED':
    case 'BAD_VERSION':
    case 'TLS_MISMATCH':
      return err.code
    case 'CONNECTION_CLOSED':
      // A plain dial hung up on without a word (see the transport's connection).
      return !tls && /is TLS set there/.test(err.message) ? 'TLS_MISMATCH' : null
    case 'SOCKET_ERROR':
      return tls && TLS_WORDS.test(err.message) ? 'TLS_MISMATCH' : null
    case 'CONNECT_FAILED':
      // Bare reports a failed TLS handshake on an inbound connection this way.
      return tls && /inbound/.test(err.message) && TLS_WORDS.test(err.message) ? 'TLS_MISMATCH' : null
    default:
      return null
  }
}

function hostPort(a: NodeAddress): string {
  return `${a.host}:${a.port}`
}

// A peer named by address when the handshake got that far, else by host: an inbound connection's
// port is the dialler's ephemeral one and changes with every redial.
function peerOf(remote: string): string {
  if (remote.includes('://')) return remote.split(' ')[0]!
  const colon = remote.lastIndexOf(':')
  return colon === -1 ? remote : remote.slice(0, colon)
}

function plain(err: ClusterError): string {
  const text = err.message.startsWith(err.code + ': ') ? err.message.slice(err.code.length + 2) : err.message
  return text.slice(0, MAX_ANSWER_CHARS)
}
