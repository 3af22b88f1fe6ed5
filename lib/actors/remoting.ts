// Remote delivery for an actor system: messages to actors on other nodes leave as envelopes,
// envelopes from peers come in to local actors, and death watch and ask failures travel as
// signals on the `actors` channel. Membership events say when a node is gone: its watched actors
// are reported terminated, asks waiting on it fail with UNREACHABLE, and messages to it go to dead
// letters.

import { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'
import type { Channel } from '../cluster/channel.ts'
import type { Cluster } from '../cluster/cluster.ts'
import type { Member } from '../cluster/membership.ts'
import type { DropEvent } from '../transport/transport.ts'
import type { EnvelopeMessage } from '../wire/index.ts'
import type { ActorCell } from './actor-cell.ts'
import { refused, type RecipientRule } from './recipients.ts'
import { ActorRef, isLocalPath, refKey } from './actor-ref.ts'
import type { TerminationReason } from './behavior.ts'
import type { DeadLetterReason } from './dead-letters.ts'
import type { PathRouter } from './path-routers.ts'
import type { Serialization } from './serialization.ts'
import { decodeValue, encodeValue, type DecodeContext, type EncodeContext } from './value-codec.ts'

export const ACTORS_CHANNEL = 'actors'
// Remote watchers this node keeps for all its actors together; watches past it are refused
// (answered as if the actor had stopped) and counted.
const MAX_REMOTE_WATCHERS = 100_000
// Nodes remembered as gone (so messages to them are dead letters at once); the oldest are
// forgotten past this many, and messages to those go to the transport, which drops them counted.
const MAX_GONE = 10_000

const SIGNAL = { WATCH: 1, UNWATCH: 2, TERMINATED: 3, ASK_FAILED: 4 } as const
const REASONS: TerminationReason[] = ['stopped', 'node-down', 'no-such-actor']

export interface RemotingStats {
  envelopesSent: number
  envelopesReceived: number
  /** Envelopes and signals from peers that did not decode; each closed the peer's connection. */
  badMessages: number
  remoteWatchers: number
  watchesRefused: number
  /**
   * Replies and ask failures for an ask of this node that came from a node it did not ask;
   * ignored.
   */
  forgedReplies: number
  /**
   * Signals (unwatch, terminated, ask failed) not sent: their node is gone, or the transport
   * refused them.
   */
  signalsDropped: number
}

/** What remoting needs of its actor system. */
export interface RemotingHost {
  readonly name: string
  ref(path: string): ActorRef
  cell(path: string): ActorCell | null
  deliver(path: string, msg: unknown, sender: ActorRef | null): void
  deadLetter(recipient: string, message: unknown, sender: ActorRef | null, reason: DeadLetterReason): void
  failAsksTo(node: NodeAddress, err: ClusterError): void
  failAsk(sender: ActorRef, err: ClusterError): boolean
  /** Whether `from` may answer the ask waiting at a /temp/ path (true if none waits). */
  askAccepts(path: string, from: NodeAddress): boolean
  /** The router that takes local paths like `path` (sharded entities), or null. */
  routerOf(path: string): PathRouter | null
  /** Hands an envelope to `router`, still encoded (a path it finds nobody at is a dead letter). */
  routeBytes(router: PathRouter, path: string, manifest: string, body: Uint8Array, sender: ActorRef | null, from: NodeAddress): void
}

export class Remoting {
  private _host: RemotingHost
  private _rule: RecipientRule
  private _cluster: Cluster
  private _serialization: Serialization
  private _log: Logger
  private _channel: Channel
  private _gone: Set<string>
  /**
   * Watches this node's actors hold on other nodes' actors: node key -> watchee path -> watchers.
   */
  private _watching: Map<string, Map<string, Set<ActorCell>>>
  /** Local actors that other nodes watch: node key -> watchee paths. */
  private _watchedBy: Map<string, Set<string>>
  private _remoteWatchers: number
  private _stats: RemotingStats
  private _listeners: [string, (...args: never[]) => void][]
  private _ondropped: (e: DropEvent) => void
  private _ondisconnected: (peer: NodeAddress) => void

  constructor(host: RemotingHost, cluster: Cluster, serialization: Serialization, log: Logger, rule: RecipientRule) {
    this._host = host
    this._rule = rule
    this._cluster = cluster
    this._serialization = serialization
    this._log = log
    this._gone = new Set()
    this._watching = new Map()
    this._watchedBy = new Map()
    this._remoteWatchers = 0
    this._stats = { envelopesSent: 0, envelopesReceived: 0, badMessages: 0, remoteWatchers: 0, watchesRefused: 0, forgedReplies: 0, signalsDropped: 0 }
    this._channel = cluster.channel(ACTORS_CHANNEL, (from, body) => this._onsignal(from, body))
    cluster.onenvelope = (from, msg) => this._onenvelope(from, msg)
    const gone = (m: Member) => this._onnodegone(m.address)
    const back = (m: Member) => this._gone.delete(m.address.key)
    const unreachable = (m: Member) => host.failAsksTo(m.address, ClusterError.UNREACHABLE(`${m.address.toString()} is unreachable`))
    this._listeners = [
      ['member-down', gone],
      ['member-removed', gone],
      ['member-joined', back],
      ['member-unreachable', unreachable]
    ]
    for (const [event, fn] of this._listeners) cluster.on(event as 'member-down', fn as (m: Member) => void)
    this._ondropped = (e: DropEvent) => this._ondrop(e)
    this._ondisconnected = (peer: NodeAddress) => this._onpeerdisconnected(peer)
    cluster.on('drop', this._ondropped)
    cluster.on('peer-disconnected', this._ondisconnected)
  }

  isGone(node: NodeAddress): boolean {
    return this._gone.has(node.key)
  }

  stats(): RemotingStats {
    return { ...this._stats, remoteWatchers: this._remoteWatchers }
  }

  close(): void {
    this._channel.close()
    this._cluster.onenvelope = null
    for (const [event, fn] of this._listeners) this._cluster.off(event as 'member-down', fn as (m: Member) => void)
    this._cluster.off('drop', this._ondropped)
    this._cluster.off('peer-disconnected', this._ondisconnected)
  }

  send(ref: ActorRef, msg: unknown, sender: ActorRef | null): void {
    const node = ref.node!
    if (this._gone.has(node.key)) {
      this._host.deadLetter(ref.path, msg, sender, 'node-gone')
      return
    }
    const { manifest, body } = this._serialization.serialize(msg)
    // A sender on this node goes as its path alone: the receiver knows which node sent it.
    const from = sender === null ? null : sender.node === null ? sender.localPath : sender.path
    try {
      this._cluster.send(node, { kind: 'envelope', to: ref.localPath, from, manifest, body, correlationId: null })
    } catch (err) {
      if (err instanceof ClusterError && err.code === 'FRAME_TOO_LARGE') throw err
      this._host.deadLetter(ref.path, msg, sender, 'undeliverable')
      return
    }
    this._stats.envelopesSent++
  }

  watch(ref: ActorRef, watcher: ActorCell): void {
    const node = ref.node!
    if (this._gone.has(node.key)) {
      watcher.terminated(ref, 'node-down')
      return
    }
    let byPath = this._watching.get(node.key)
    if (byPath === undefined) this._watching.set(node.key, (byPath = new Map()))
    let watchers = byPath.get(ref.localPath)
    if (watchers === undefined) byPath.set(ref.localPath, (watchers = new Set()))
    watchers.add(watcher)
    this._signal(node, [SIGNAL.WATCH, ref.localPath, watcher.path])
  }

  unwatch(ref: ActorRef, watcher: ActorCell): void {
    const node = ref.node!
    const byPath = this._watching.get(node.key)
    const watchers = byPath?.get(ref.localPath)
    if (watchers === undefined || !watchers.delete(watcher)) return
    if (watchers.size === 0) byPath!.delete(ref.localPath)
    if (byPath!.size === 0) this._watching.delete(node.key)
    this._signalUnlessGone(node, [SIGNAL.UNWATCH, ref.localPath, watcher.path])
  }

  /** A local actor that `watcher` (on another node) watched has stopped. */
  sendTerminated(watcher: ActorRef, watcheePath: string, reason: TerminationReason): void {
    const node = watcher.node!
    this._forgetWatcher(node, watcheePath)
    this._signalUnlessGone(node, [SIGNAL.TERMINATED, watcheePath, watcher.localPath, REASONS.indexOf(reason)])
  }

  sendAskFailure(replyTo: ActorRef, err: ClusterError): void {
    const node = replyTo.node!
    this._signalUnlessGone(node, [SIGNAL.ASK_FAILED, replyTo.localPath, err.code, err.message])
  }

  private _onenvelope(from: NodeAddress, msg: EnvelopeMessage): void {
    // A recipient peers may not address is refused (and counted) before anything is decoded.
    if (refused(this._cluster.transport, this._rule, from, msg)) return
    this._stats.envelopesReceived++
    // A path with an actor there is valid; only others need the check.
    const cell = this._host.cell(msg.to)
    let sender: ActorRef | null = null
    let value: unknown
    try {
      // Looked up once: the router of a sharded entity's path both vouches for it and takes it.
      const router = cell === null ? this._host.routerOf(msg.to) : null
      if (cell === null && router === null && !isLocalPath(msg.to)) throw ClusterError.BAD_PATH(`an envelope to ${JSON.stringify(msg.to.slice(0, 200))}`)
      if (cell === null && this._forged(from, msg.to, 'a reply')) return
      if (msg.from !== null) sender = msg.from.startsWith('/') ? this._host.ref(from.toString() + msg.from) : this._host.ref(msg.from)
      // A sender naming one of this node's asks could fail that ask: only the asked node may.
      if (sender !== null && sender.node === null && this._forged(from, sender.localPath, 'a sender')) return
      // A path served by a router (a sharded entity) is decoded there, if at all.
      if (router !== null) return this._host.routeBytes(router, msg.to, msg.manifest, msg.body, sender, from)
      value = this._serialization.deserialize(msg.manifest, msg.body)
    } catch (err) {
      if (err instanceof ClusterError && err.code === 'UNKNOWN_MANIFEST') {
        this._log.warn(`an envelope from ${from.toString()} to ${msg.to}: ${err.message}`)
        this._host.deadLetter(msg.to, msg.body, sender, 'unknown-manifest')
        return
      }
      this._badMessage(from, err)
      return
    }
    if (cell !== null) cell.enqueue(value, sender)
    else this._host.deliver(msg.to, value, sender)
  }

  private _onsignal(from: NodeAddress, body: Uint8Array): void {
    let signal: unknown
    try {
      signal = decodeValue(body, PLAIN_DECODE)
      this._handleSignal(from, signal)
    } catch (err) {
      this._badMessage(from, err)
    }
  }

  private _handleSignal(from: NodeAddress, signal: unknown): void {
    if (!Array.isArray(signal)) throw ClusterError.BAD_MESSAGE('a signal is an array')
    const [type, a, b, c] = signal as unknown[]
    if (typeof a !== 'string' || !isLocalPath(a)) throw ClusterError.BAD_MESSAGE('a signal names a local path first')
    switch (type) {
      case SIGNAL.WATCH:
      case SIGNAL.UNWATCH:
      case SIGNAL.TERMINATED: {
        if (typeof b !== 'string' || !isLocalPath(b)) throw ClusterError.BAD_MESSAGE('a watch signal names two paths')
        if (type === SIGNAL.WATCH) this._onwatch(from, a, b)
        else if (type === SIGNAL.UNWATCH) this._onunwatch(from, a, b)
        else {
          const reason = typeof c === 'number' ? REASONS[c] : undefined
          if (reason === undefined) throw ClusterError.BAD_MESSAGE('a terminated signal without a reason')
          this._onterminated(from, a, b, reason)
        }
        return
      }
      case SIGNAL.ASK_FAILED: {
        if (typeof b !== 'string' || typeof c !== 'string') throw ClusterError.BAD_MESSAGE('an ask failure has a code and a message')
        const code = (KNOWN_CODES.has(b) ? b : 'ACTOR_FAILED') as ClusterError['code']
        const text = c.startsWith(code + ': ') ? c.slice(code.length + 2) : c
        if (this._forged(from, a, 'an ask failure')) return
        this._host.failAsk(this._host.ref(a), new ClusterError(code, text.slice(0, 1000)))
        return
      }
    }
    throw ClusterError.BAD_MESSAGE(`unknown signal ${String(type)}`)
  }

  private _onwatch(from: NodeAddress, watcheePath: string, watcherPath: string): void {
    const cell = this._host.cell(watcheePath)
    const watcher = this._host.ref(from.toString() + watcherPath)
    if (cell === null || cell.stopped) {
      this._signal(from, [SIGNAL.TERMINATED, watcheePath, watcherPath, REASONS.indexOf('no-such-actor')])
      return
    }
    const key = refKey(watcher)
    if (cell.watchers.has(key)) return
    if (this._remoteWatchers >= MAX_REMOTE_WATCHERS) {
      this._stats.watchesRefused++
      this._log.warn(`refusing a watch from ${from.toString()}: ${MAX_REMOTE_WATCHERS} remote watchers already`)
      this._signal(from, [SIGNAL.TERMINATED, watcheePath, watcherPath, REASONS.indexOf('stopped')])
      return
    }
    cell.watchers.set(key, watcher)
    this._remoteWatchers++
    let paths = this._watchedBy.get(from.key)
    if (paths === undefined) this._watchedBy.set(from.key, (paths = new Set()))
    paths.add(watcheePath)
  }

  private _onunwatch(from: NodeAddress, watcheePath: string, watcherPath: string): void {
    const cell = this._host.cell(watcheePath)
    if (cell !== null && cell.watchers.delete(refKey(this._host.ref(from.toString() + watcherPath)))) this._remoteWatchers--
  }

  private _onterminated(from: NodeAddress, watcheePath: string, watcherPath: string, reason: TerminationReason): void {
    const byPath = this._watching.get(from.key)
    const watchers = byPath?.get(watcheePath)
    const cell = this._host.cell(watcherPath)
    if (watchers === undefined || cell === null || !watchers.delete(cell)) return
    if (watchers.size === 0) byPath!.delete(watcheePath)
    if (byPath!.size === 0) this._watching.delete(from.key)
    cell.terminated(this._host.ref(from.toString() + watcheePath), reason)
  }

  /** A node is down or removed: what was sent to it is lost, and its actors are gone. */
  private _onnodegone(node: NodeAddress): void {
    if (node.equals(this._cluster.self)) return
    this._gone.add(node.key)
    if (this._gone.size > MAX_GONE) this._gone.delete(this._gone.values().next().value!)
    this._host.failAsksTo(node, ClusterError.UNREACHABLE(`${node.toString()} has left the cluster`))
    const byPath = this._watching.get(node.key)
    if (byPath !== undefined) {
      this._watching.delete(node.key)
      for (const [path, watchers] of byPath) {
        const ref = this._host.ref(node.toString() + path)
        for (const cell of watchers) cell.terminated(ref, 'node-down')
      }
    }
    this._dropWatchersOn(node)
  }

  /** The transport gave up on messages to a peer: asks waiting there will not be answered. */
  private _ondrop(e: DropEvent): void {
    if (e.kind !== 'envelope') return
    if (e.reason === 'unreachable' || e.reason === 'disconnected' || e.reason === 'shutdown' || e.reason === 'peer-restarted') {
      this._host.failAsksTo(e.peer, ClusterError.UNREACHABLE(`a message to ${e.peer.toString()} was lost (${e.reason})`))
    }
  }

  /**
   * A peer that is not a member (a client-only node) went away: nothing will tell us it is down,
   * so its watches end here.
   */
  private _onpeerdisconnected(peer: NodeAddress): void {
    if (this._cluster.member(peer) === null) this._dropWatchersOn(peer)
  }

  private _dropWatchersOn(node: NodeAddress): void {
    const paths = this._watchedBy.get(node.key)
    if (paths === undefined) return
    this._watchedBy.delete(node.key)
    for (const path of paths) {
      const cell = this._host.cell(path)
      if (cell === null) continue
      for (const [key, ref] of cell.watchers) {
        if (ref.node !== null && ref.node.key === node.key) {
          cell.watchers.delete(key)
          this._remoteWatchers--
        }
      }
    }
  }

  private _forgetWatcher(node: NodeAddress, watcheePath: string): void {
    this._remoteWatchers--
    const paths = this._watchedBy.get(node.key)
    if (paths === undefined) return
    paths.delete(watcheePath)
    if (paths.size === 0) this._watchedBy.delete(node.key)
  }

  /** To a node that is gone a signal has no one to reach: counted, not sent. */
  private _signalUnlessGone(to: NodeAddress, signal: unknown[]): void {
    if (this._gone.has(to.key)) this._stats.signalsDropped++
    else this._signal(to, signal)
  }

  private _signal(to: NodeAddress, signal: unknown[]): void {
    try {
      this._channel.send(to, encodeValue(signal, PLAIN_ENCODE))
    } catch (err) {
      this._stats.signalsDropped++
      this._log.warn(`could not send a signal to ${to.toString()}`, err)
    }
  }

  /** Whether `from` speaks for an ask of this node at `path` that it was not asked; counted. */
  private _forged(from: NodeAddress, path: string, what: string): boolean {
    if (!path.startsWith('/temp/')) return false
    if (this._host.askAccepts(path, from)) return false
    this._stats.forgedReplies++
    this._log.warn(`ignoring ${what} for an ask from ${from.toString()}, which was not asked`)
    return true
  }

  private _badMessage(from: NodeAddress, err: unknown): void {
    this._stats.badMessages++
    const e = ClusterError.from(err, 'BAD_MESSAGE')
    this._log.warn(`closing the connection to ${from.toString()}: ${e.message}`)
    this._cluster.transport.disconnect(from)
  }
}

// Signals are plain data: no refs, no custom types.
const PLAIN_ENCODE: EncodeContext = { refPath: () => null, custom: () => null }
const PLAIN_DECODE: DecodeContext = {
  ref: () => {
    throw ClusterError.BAD_MESSAGE('a ref inside a signal')
  },
  custom: () => {
    throw ClusterError.BAD_MESSAGE('a custom value inside a signal')
  }
}

const KNOWN_CODES = new Set(['ASK_TIMEOUT', 'UNREACHABLE', 'NO_RECIPIENT', 'ACTOR_FAILED', 'QUEUE_FULL', 'SYSTEM_STOPPED', 'NOT_SERIALIZABLE', 'UNKNOWN_MANIFEST'])
