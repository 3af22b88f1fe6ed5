// The actor system: spawns and stops actors, delivers messages, runs asks, keeps dead letters,
// and, once `Cluster.join(system, ...)` has run, reaches actors on other nodes through remoting.

import EventEmitter from 'bare-events'
import { ClusterError } from '../errors.ts'
import { createLogger, nodeLogger, scopedLogger, type Logger } from '../logger.ts'
import { NodeAddress, isSystemName } from '../node-address.ts'
import type { Cluster, ClusterOptions, ClusterSystem } from '../cluster/cluster.ts'
import { ActorCell, type CellHost } from './actor-cell.ts'
import { askFailure, type CallSite } from './ask-error.ts'
import { actorFamilies } from './actor-metrics.ts'
import { ActorRef, checkActorName, isLocalPath, refKey, type AskOptions, type RefOwner } from './actor-ref.ts'
import type { Behavior, SpawnOptions } from './behavior.ts'
import { ACTOR_SYSTEM_DEFAULTS, type ActorSystemOptions } from './actor-system-options.ts'
import { AskTimeouts } from './ask-timeouts.ts'
import { deadLetterError, type DeadLetter, type DeadLetterReason } from './dead-letters.ts'
import { Dispatcher } from './dispatcher.ts'
import type { MailboxOptions } from './mailbox.ts'
import { PathRouters, type PathRouter } from './path-routers.ts'
import { PendingAsks } from './pending-asks.ts'
import { systemRecipientRule, type RecipientRule } from './recipients.ts'
import { Remoting, type RemotingStats } from './remoting.ts'
import { Serialization, type RefCodec, type Serializer } from './serialization.ts'

export { ACTOR_SYSTEM_DEFAULTS } from './actor-system-options.ts'
export type { ActorSystemOptions } from './actor-system-options.ts'
export type { DeadLetter, DeadLetterReason } from './dead-letters.ts'

export interface ActorSystemStats {
  actors: number
  asksPending: number
  deadLetters: number
  deadLettersByReason: Partial<Record<DeadLetterReason, number>>
  failures: number
  restarts: number
  remote: RemotingStats | null
}

/** Events an ActorSystem emits. */
export interface ActorSystemEventMap {
  /** A message that could not be delivered, with its recipient and the reason. */
  'dead-letter': [letter: DeadLetter]
}

const REF_CACHE_MAX = 10_000

/**
 * Spawns and stops actors, delivers their messages, runs asks and keeps dead letters; after
 * `Cluster.join(system, ...)` it reaches actors on the other nodes too.
 */
export class ActorSystem extends EventEmitter<ActorSystemEventMap> implements ClusterSystem, RefOwner, CellHost, RefCodec {
  /** The system's name, which is its cluster's name. */
  readonly name: string
  /** The system's logger. */
  readonly log: Logger
  /** @internal */
  readonly dispatcher: Dispatcher
  /** The serializers messages cross the wire with. */
  readonly serialization: Serialization
  /** @internal */
  readonly actorLog: Logger
  private _nodeLog: Logger
  private _cells: Map<string, ActorCell>
  private _asks: PendingAsks
  private _nameSeq: number
  private _askTimeoutMs: number
  /** @internal */
  readonly _askCallSites: boolean
  private _mailbox: MailboxOptions
  private _serializeLocal: boolean
  private _recipients: RecipientRule
  private _cluster: Cluster | null
  private _remoting: Remoting | null
  private _refs: Map<string, ActorRef>
  private _routers: PathRouters
  private _terminated: boolean
  private _stats: { deadLetters: number; byReason: Partial<Record<DeadLetterReason, number>>; failures: number; restarts: number }

  /** A new system named `name` (letters, digits, `_`, `.`, `-`): the cluster's name too. */
  static create(name: string, opts: ActorSystemOptions = {}): ActorSystem {
    return new ActorSystem(name, opts)
  }

  /** The same as `ActorSystem.create(name, opts)`. */
  constructor(name: string, opts: ActorSystemOptions = {}) {
    super()
    // A system's name is its cluster's name, and part of every address.
    if (!isSystemName(name)) throw ClusterError.BAD_ADDRESS(`bad system name ${JSON.stringify(name)}`)
    this.name = name
    this.log = opts.log ?? createLogger(opts.logLevel ?? ACTOR_SYSTEM_DEFAULTS.logLevel)
    this.dispatcher = new Dispatcher()
    this.serialization = new Serialization(this)
    for (const s of opts.serializers ?? []) this.serialization.register(s)
    // Once joined, every line names the node.
    this._nodeLog = nodeLogger(this.log, () => this._cluster?.self.key ?? this.name)
    this.actorLog = scopedLogger(this._nodeLog, 'actors')
    this._cells = new Map()
    this._asks = new PendingAsks()
    this._nameSeq = 0
    this._askTimeoutMs = opts.askTimeoutMs ?? ACTOR_SYSTEM_DEFAULTS.askTimeoutMs
    this._askCallSites = opts.askCallSites ?? ACTOR_SYSTEM_DEFAULTS.askCallSites
    this._mailbox = opts.mailbox ?? {}
    this._serializeLocal = opts.serializeLocalMessages === true
    this._recipients = systemRecipientRule(opts.systemPaths ?? [])
    this._cluster = null
    this._remoting = null
    this._refs = new Map()
    this._routers = new PathRouters()
    this._terminated = false
    this._stats = { deadLetters: 0, byReason: {}, failures: 0, restarts: 0 }
  }

  /** The cluster this system joined, or null before `Cluster.join`. */
  get cluster(): Cluster | null {
    return this._cluster
  }

  /** This node's address once it has joined a cluster. */
  get address(): NodeAddress | null {
    return this._cluster?.self ?? null
  }

  /** True once `terminate()` has run. */
  get terminated(): boolean {
    return this._terminated
  }

  /**
   * Starts a top-level actor at `/user/<name>` (a generated name when null). `M` is the message
   * type the behavior takes, `R` what its asks reply with.
   */
  spawn<M, R = unknown>(name: string | null, behavior: Behavior<M>, opts: SpawnOptions = {}): ActorRef<M, R> {
    return this._spawn(null, name, behavior, opts) as ActorRef<M, R>
  }

  /**
   * A ref from a path: a full one (`actor-cluster://app@host:port/user/a`) or a local one
   * (`/user/a`). No message is sent; a ref to nothing sends to dead letters.
   */
  ref<M = unknown, R = unknown>(path: string): ActorRef<M, R> {
    let ref = this._refs.get(path)
    if (ref === undefined) {
      ref = this._parseRef(path)
      if (this._refs.size >= REF_CACHE_MAX) this._refs.clear()
      this._refs.set(path, ref)
    }
    return ref as ActorRef<M, R>
  }

  /** Stops the actor (and its children); its watchers get Terminated. */
  stop(ref: ActorRef): void {
    this.stopRef(ref)
  }

  /** Adds a serializer for a message type of your own (same as the `serializers` option). */
  registerSerializer<T>(serializer: Serializer<T>): void {
    this.serialization.register(serializer)
  }

  /** Actors, pending asks, dead letters by reason, failures, restarts and remoting counters. */
  stats(): ActorSystemStats {
    return {
      actors: this._cells.size,
      asksPending: this._asks.size,
      deadLetters: this._stats.deadLetters,
      deadLettersByReason: { ...this._stats.byReason },
      failures: this._stats.failures,
      restarts: this._stats.restarts,
      remote: this._remoting?.stats() ?? null
    }
  }

  /**
   * Stops every actor, fails pending asks with SYSTEM_STOPPED, and leaves the cluster (gracefully
   * unless `leave` is false, which just shuts the node down).
   */
  async terminate(opts: { leave?: boolean } = {}): Promise<void> {
    if (this._terminated) return
    // What runs before a graceful leave (sharding hands its entities over) needs live actors.
    if (this._cluster !== null && opts.leave !== false) await this._cluster.prepareLeave()
    if (this._terminated) return
    this._terminated = true
    this._asks.failAll(ClusterError.SYSTEM_STOPPED(`${this.name} terminated before an answer came`))
    for (const cell of [...this._cells.values()]) if (cell.parent === null) cell.stop()
    const cluster = this._cluster
    if (cluster === null) return
    this._remoting?.close()
    if (opts.leave === false) await cluster.shutdown()
    else await cluster.leave()
  }

  // --- called by Cluster.join ----------------------------------------------------------------

  /** @internal */
  _attachCluster(cluster: Cluster, opts: ClusterOptions): void {
    if (this._cluster !== null) throw ClusterError.BAD_OPTIONS(`${this.name} has joined a cluster already`)
    this._cluster = cluster
    if (opts.serializeLocalMessages === true) this._serializeLocal = true
    this._refs.clear()
    this._remoting = new Remoting(this, cluster, this.serialization, scopedLogger(this._nodeLog, 'remoting'), this._recipients)
    cluster.addMetrics(() => actorFamilies(this.stats()))
  }

  // --- RefOwner ------------------------------------------------------------------------------

  /** @internal */
  _addressString(): string {
    return this._cluster?.self.toString() ?? `actor-cluster://${this.name}`
  }

  /** @internal */
  _tell(ref: ActorRef, msg: unknown, sender: ActorRef | null): void {
    if (this._terminated) {
      this.deadLetter(ref.path, msg, sender, 'system-stopped')
    } else if (ref.node === null) {
      const local = this._serializeLocal ? this.serialization.roundTrip(msg) : msg
      let cell = ref._cell as ActorCell | null
      if (cell === null || cell.stopped) {
        cell = this._cells.get(ref.localPath) ?? null
        ref._cell = cell
      }
      if (cell !== null) cell.enqueue(local, sender)
      else this.deliver(ref.localPath, local, sender)
    } else if (this._remoting === null) {
      this.deadLetter(ref.path, msg, sender, 'no-cluster')
    } else {
      this._remoting.send(ref, msg, sender)
    }
  }

  /**
   * `alsoFrom`: the ref routes the message itself (a sharded entity), so besides the node it was
   * sent to (`_askSentTo`) the answer may come from a node this says may answer.
   * @internal
   */
  _ask(ref: ActorRef, msg: unknown, opts: AskOptions, site: CallSite | null = null, alsoFrom: ((from: NodeAddress) => boolean) | null = null): Promise<unknown> {
    const timeoutMs = AskTimeouts.normalize(opts.timeoutMs ?? this._askTimeoutMs)
    // Every failure names the actor, the timeout and the caller's line.
    const fail = (err: ClusterError) => askFailure(err, ref.path, timeoutMs, site)
    if (this._terminated) return Promise.reject(fail(ClusterError.SYSTEM_STOPPED(`${this.name} is terminated`)))
    if (ref.node !== null && this._remoting?.isGone(ref.node) === true) {
      return Promise.reject(fail(ClusterError.UNREACHABLE(`${ref.node.toString()} is not in the cluster`)))
    }
    const path = this._asks.newPath()
    const replyTo = new ActorRef(this, null, path)
    return new Promise((resolve, rejectRaw) => {
      const reject = (err: ClusterError) => rejectRaw(fail(err))
      this._asks.add(path, { resolve, reject, ref, timeoutMs, node: ref.node, alsoFrom })
      try {
        // Through the ref, so that a ref owned by another router (a sharded entity) routes it.
        ref.tell(msg, replyTo)
      } catch (err) {
        this._asks.settle(path, ClusterError.from(err, 'NOT_SERIALIZABLE'), undefined)
      }
    })
  }

  // --- RefCodec ------------------------------------------------------------------------------

  /** @internal */
  pathOf(value: object): string | null {
    return value instanceof ActorRef ? value.path : null
  }

  /** @internal */
  refOf(path: string): unknown {
    return this.ref(path)
  }

  // --- CellHost and Remoting -----------------------------------------------------------------

  /**
   * Hands a message to the local actor at `path`, an ask's reply to its ask, or the rest to
   * dead letters.
   * @internal
   */
  deliver(path: string, msg: unknown, sender: ActorRef | null): void {
    const cell = this._cells.get(path)
    if (cell !== undefined) {
      cell.enqueue(msg, sender)
      return
    }
    if (path.startsWith('/temp/') && this._asks.settle(path, null, msg)) return
    if (this._routers.value(path, msg, sender)) return
    this.deadLetter(this._addressString() + path, msg, sender, 'no-recipient')
  }

  /** @internal */
  cell(path: string): ActorCell | null {
    return this._cells.get(path) ?? null
  }

  /** @internal */
  deadLetter(recipient: string, message: unknown, sender: ActorRef | null, reason: DeadLetterReason): void {
    this._stats.deadLetters++
    this._stats.byReason[reason] = (this._stats.byReason[reason] ?? 0) + 1
    this.actorLog.debug(`dead letter to ${recipient} (${reason})`)
    // An ask waiting on this message learns now rather than at its timeout.
    if (sender !== null && sender.localPath.startsWith('/temp/')) this.failAsk(sender, deadLetterError(recipient, reason))
    if (this.listenerCount('dead-letter') > 0) this.emit('dead-letter', { recipient, message, sender, reason })
  }

  /** @internal */
  failAsk(sender: ActorRef, err: ClusterError): boolean {
    if (sender.node === null) return this._asks.settle(sender.localPath, err, undefined)
    this._remoting?.sendAskFailure(sender, err)
    return true
  }

  /**
   * Whether `from` may answer the ask waiting at `path`: the node it was sent to, or one its
   * router names; true when no ask waits there.
   * @internal
   */
  askAccepts(path: string, from: NodeAddress): boolean {
    return this._asks.accepts(path, from)
  }

  /**
   * A router sent the message of the ask waiting at `path` on to `node`: its answer comes from
   * there, and the ask fails when that node is lost.
   * @internal
   */
  _askSentTo(path: string, node: NodeAddress | null): void {
    this._asks.sentTo(path, node)
  }

  /**
   * Local paths under `prefix` (no actor of their own) go to `route`, from this node and from
   * peers alike. Returns the undo.
   * @internal
   */
  _mount(prefix: string, router: PathRouter): () => void {
    return this._routers.mount(prefix, router)
  }

  /**
   * Whether a router takes local paths like `path`.
   * @internal
   */
  mounted(path: string): boolean {
    return this._routers.routerOf(path) !== null
  }

  /**
   * The router that takes local paths like `path`, or null.
   * @internal
   */
  routerOf(path: string): PathRouter | null {
    return this._routers.routerOf(path)
  }

  /**
   * Hands an envelope from peer `from` to `router` (see routerOf), still encoded; a path the
   * router finds nobody at is a dead letter.
   * @internal
   */
  routeBytes(router: PathRouter, path: string, manifest: string, body: Uint8Array, sender: ActorRef | null, from: NodeAddress): void {
    if (!router.bytes(path, manifest, body, sender, from)) this.deadLetter(this._addressString() + path, body, sender, 'no-recipient')
  }

  /**
   * Fails every ask waiting on an actor of `node`.
   * @internal
   */
  failAsksTo(node: NodeAddress, err: ClusterError): void {
    this._asks.failTo(node, err)
  }

  /** @internal */
  spawnChild<C>(parent: ActorCell, name: string | null, behavior: Behavior<C>, opts: SpawnOptions): ActorRef<C> {
    return this._spawn(parent, name, behavior, opts)
  }

  /** @internal */
  stopRef(ref: ActorRef): void {
    if (ref.node !== null) throw ClusterError.BAD_OPTIONS(`only local actors can be stopped here, not ${ref.path}`)
    this._cells.get(ref.localPath)?.stop()
  }

  /** @internal */
  watch(watcher: ActorCell, ref: ActorRef): void {
    const key = refKey(ref)
    if (watcher.watching.has(key)) return
    watcher.watching.set(key, ref)
    if (ref.node !== null) {
      if (this._remoting === null) watcher.terminated(ref, 'node-down')
      else this._remoting.watch(ref, watcher)
      return
    }
    const target = this._cells.get(ref.localPath)
    if (target === undefined || target.stopped) watcher.terminated(ref, 'no-such-actor')
    else target.watchers.set(refKey(watcher.ref), watcher.ref)
  }

  /** @internal */
  unwatch(watcher: ActorCell, ref: ActorRef): void {
    if (!watcher.watching.delete(refKey(ref))) return
    if (ref.node !== null) this._remoting?.unwatch(ref, watcher)
    else this._cells.get(ref.localPath)?.watchers.delete(refKey(watcher.ref))
  }

  /** @internal */
  cellStopped(cell: ActorCell): void {
    if (this._cells.get(cell.path) === cell) this._cells.delete(cell.path)
    cell.parent?.children.delete(cell.ref.name)
    for (const w of cell.watchers.values()) {
      if (w.node === null) this._cells.get(w.localPath)?.terminated(cell.ref, 'stopped')
      else this._remoting?.sendTerminated(w, cell.path, 'stopped')
    }
    cell.watchers.clear()
    for (const ref of [...cell.watching.values()]) this.unwatch(cell, ref)
  }

  /** @internal */
  countFailure(restarted: boolean): void {
    this._stats.failures++
    if (restarted) this._stats.restarts++
  }

  // --- internals -----------------------------------------------------------------------------

  private _spawn<M>(parent: ActorCell | null, name: string | null, behavior: Behavior<M>, opts: SpawnOptions): ActorRef<M> {
    if (this._terminated) throw ClusterError.SYSTEM_STOPPED(`${this.name} is terminated`)
    if (parent !== null && parent.stopped) throw ClusterError.SYSTEM_STOPPED(`${parent.ref.path} is stopped`)
    const own = name === null ? (parent === null ? '$' + (++this._nameSeq).toString(36) : parent.nextChildName()) : checkActorName(name)
    const path = (parent === null ? '/user/' : parent.path + '/') + own
    if (this._cells.has(path)) throw ClusterError.NAME_TAKEN(`${path} is taken`)
    const ref = new ActorRef<M>(this, null, path)
    const cell = new ActorCell(this, ref as ActorRef, parent, behavior as Behavior<unknown>, {
      ...opts,
      mailbox: { ...this._mailbox, ...opts.mailbox }
    })
    this._cells.set(path, cell)
    parent?.children.set(own, cell)
    cell.start()
    return ref
  }

  private _parseRef(path: string): ActorRef {
    if (typeof path !== 'string') throw ClusterError.BAD_PATH('an actor path is a string')
    if (path.startsWith('/')) {
      if (!isLocalPath(path) && !this.mounted(path)) throw ClusterError.BAD_PATH(`not an actor path: ${JSON.stringify(path.slice(0, 200))}`)
      return new ActorRef(this, null, path)
    }
    const scheme = path.indexOf('://')
    const slash = scheme === -1 ? -1 : path.indexOf('/', scheme + 3)
    if (slash === -1) throw ClusterError.BAD_PATH(`not an actor path: ${JSON.stringify(path.slice(0, 200))}`)
    const local = path.slice(slash)
    // Paths a router serves (sharded entities) are paths too, on nodes that run that router.
    if (!isLocalPath(local) && !this.mounted(local)) throw ClusterError.BAD_PATH(`not an actor path: ${JSON.stringify(path.slice(0, 200))}`)
    const address = path.slice(0, slash)
    if (address === this._addressString()) return new ActorRef(this, null, local)
    const node = NodeAddress.parse(address)
    if (this._cluster !== null && node.equals(this._cluster.self)) return new ActorRef(this, null, local)
    return new ActorRef(this, node, local)
  }
}
