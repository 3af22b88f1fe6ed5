// One live actor: its behavior, mailbox, children, watchers and the loop that hands it one
// message at a time. Failures are caught here and handled by the actor's supervision rule.

import { ClusterError } from '../errors.ts'
import { now } from '../../backends/clock.ts'
import { scopedLogger, type Logger } from '../logger.ts'
import { refKey, type ActorRef } from './actor-ref.ts'
import {
  SUPERVISION_DEFAULTS,
  Terminated,
  type ActorContext,
  type Behavior,
  type BehaviorObject,
  type SpawnOptions,
  type Supervision,
  type SupervisionStrategy,
  type TerminationReason
} from './behavior.ts'
import type { Dispatcher, Runnable } from './dispatcher.ts'
import { Mailbox, type Dropped } from './mailbox.ts'

/** What a cell needs from its system. */
export interface CellHost {
  /** @internal */
  readonly dispatcher: Dispatcher
  /** @internal */
  readonly log: Logger
  /**
   * The `[actors]` log, for failures.
   * @internal
   */
  readonly actorLog: Logger
  /** @internal */
  spawnChild<C>(parent: ActorCell, name: string | null, behavior: Behavior<C>, opts: SpawnOptions): ActorRef<C>
  /** @internal */
  stopRef(ref: ActorRef): void
  /** @internal */
  deadLetter(recipient: string, message: unknown, sender: ActorRef | null, reason: 'mailbox-full' | 'stopped' | 'no-sender'): void
  /**
   * The actor failed on a message an ask is waiting for: fail that ask.
   * @internal
   */
  failAsk(sender: ActorRef, err: ClusterError): boolean
  /** @internal */
  watch(watcher: ActorCell, ref: ActorRef): void
  /** @internal */
  unwatch(watcher: ActorCell, ref: ActorRef): void
  /** @internal */
  cellStopped(cell: ActorCell): void
  /** @internal */
  countFailure(restarted: boolean): void
}

type State = 'starting' | 'running' | 'stopped'

const STRATEGY_WORDS: Record<SupervisionStrategy, string> = {
  restart: 'restarting it',
  resume: 'going on with the next message',
  stop: 'stopping it'
}

export class ActorCell implements Runnable {
  readonly ref: ActorRef
  readonly parent: ActorCell | null
  readonly children: Map<string, ActorCell>
  /** Who watches this actor, by path: local cells' refs and remote refs. */
  readonly watchers: Map<string, ActorRef>
  /** Whom this actor watches, by path. */
  readonly watching: Map<string, ActorRef>
  inReady: boolean
  private _host: CellHost
  private _behavior: BehaviorObject<unknown>
  private _mailbox: Mailbox
  private _supervision: Required<Supervision>
  private _state: State
  private _busy: boolean
  private _stopRequested: boolean
  private _sender: ActorRef | null
  private _replied: boolean
  private _restarts: number[]
  private _ctx: ActorContext<unknown>
  private _childSeq: number

  constructor(host: CellHost, ref: ActorRef, parent: ActorCell | null, behavior: Behavior<unknown>, opts: SpawnOptions) {
    this.ref = ref
    this.parent = parent
    this.children = new Map()
    this.watchers = new Map()
    this.watching = new Map()
    this.inReady = false
    this._host = host
    this._behavior = asObject(behavior)
    this._mailbox = new Mailbox(opts.mailbox)
    const s = typeof opts.supervision === 'string' ? { strategy: opts.supervision } : (opts.supervision ?? {})
    this._supervision = { ...SUPERVISION_DEFAULTS, ...s }
    this._state = 'starting'
    this._busy = false
    this._stopRequested = false
    this._sender = null
    this._replied = false
    this._restarts = []
    this._ctx = new Context(this, host)
    this._childSeq = 0
  }

  get path(): string {
    return this.ref.localPath
  }

  get stopped(): boolean {
    return this._state === 'stopped'
  }

  get runnable(): boolean {
    return this._state === 'running' && !this._busy && this._mailbox.length > 0
  }

  get mailboxLength(): number {
    return this._mailbox.length
  }

  get sender(): ActorRef | null {
    return this._sender
  }

  nextChildName(): string {
    return '$' + (++this._childSeq).toString(36)
  }

  start(): void {
    this._call('started')
  }

  /** Queues a message. `system` messages (Terminated) are let in over capacity. */
  enqueue(message: unknown, sender: ActorRef | null, system = false): void {
    const dropped = this.offer(message, sender, system)
    if (dropped !== null) this._host.deadLetter(this.ref.path, dropped.message, dropped.sender, 'mailbox-full')
  }

  /**
   * Queues a message as `enqueue` does, but hands back the one a full mailbox did not keep (this
   * one or the oldest) instead of making it a dead letter: for a caller that accounts for it.
   */
  offer(message: unknown, sender: ActorRef | null, system = false): Dropped | null {
    if (this._state === 'stopped') {
      this._host.deadLetter(this.ref.path, message, sender, 'stopped')
      return null
    }
    const dropped = this._mailbox.push(message, sender, system)
    if (this.runnable) this._host.dispatcher.schedule(this)
    return dropped
  }

  run(max: number): number {
    let n = 0
    while (n < max && this.runnable) {
      const message = this._mailbox.take()
      const sender = this._mailbox.takenSender
      n++
      this._sender = sender
      this._replied = false
      this._busy = true
      let result: unknown
      try {
        result = this._behavior.receive(message, this._ctx)
      } catch (err) {
        this._busy = false
        this._onfailure(err, sender)
        continue
      }
      if (isThenable(result)) {
        result.then(
          () => this._onsettled(false, null, sender),
          (err: unknown) => this._onsettled(true, err, sender)
        )
        return n
      }
      this._busy = false
      if (this._stopRequested) this._finishStop()
    }
    return n
  }

  reply(value: unknown): void {
    const to = this._sender
    this._replied = true
    if (to === null) {
      this._host.deadLetter('(no sender)', value, this.ref, 'no-sender')
      return
    }
    to.tell(value, this.ref)
  }

  become(behavior: Behavior<unknown>): void {
    this._behavior = asObject(behavior)
  }

  /**
   * Stops after the message being handled, if any; children first, then `stopped`, then the
   * watchers hear of it.
   */
  stop(): void {
    if (this._state === 'stopped') return
    this._stopRequested = true
    if (!this._busy) this._finishStop()
  }

  private _onsettled(failed: boolean, err: unknown, sender: ActorRef | null): void {
    this._busy = false
    if (failed) this._onfailure(err, sender)
    if (this._stopRequested) this._finishStop()
    else if (this.runnable) this._host.dispatcher.schedule(this)
  }

  /** Runs `started` or `stopped`, waiting for it if it returns a promise. */
  private _call(hook: 'started' | 'stopped'): void {
    const fn = this._behavior[hook]
    if (typeof fn !== 'function') {
      if (hook === 'started') this._running()
      return
    }
    let result: unknown
    try {
      result = fn.call(this._behavior, this._ctx)
    } catch (err) {
      this._hookFailed(hook, err)
      return
    }
    if (hook === 'stopped') {
      if (isThenable(result)) result.then(undefined, (err: unknown) => this._hookFailed(hook, err))
      return
    }
    if (!isThenable(result)) {
      this._running()
      return
    }
    this._busy = true
    result.then(
      () => {
        this._busy = false
        this._running()
      },
      (err: unknown) => {
        this._busy = false
        this._hookFailed(hook, err)
      }
    )
  }

  private _running(): void {
    if (this._state === 'stopped') return
    this._state = 'running'
    if (this._stopRequested) this._finishStop()
    else if (this.runnable) this._host.dispatcher.schedule(this)
  }

  private _hookFailed(hook: string, err: unknown): void {
    this._host.actorLog.error(`${this.ref.path} failed in ${hook}; stopping it`, err)
    this._host.countFailure(false)
    if (hook === 'started') {
      this._state = 'running'
      this.stop()
    }
  }

  private _onfailure(err: unknown, sender: ActorRef | null): void {
    if (sender !== null && !this._replied && sender.localPath.startsWith('/temp/')) {
      this._host.failAsk(sender, ClusterError.ACTOR_FAILED(`${this.ref.path} failed: ${describe(err)}`, err))
    }
    const strategy = this._decide()
    this._host.actorLog.error(`${this.ref.path} failed on a message; ${STRATEGY_WORDS[strategy]}`, err)
    this._host.countFailure(strategy === 'restart')
    if (strategy === 'stop') {
      this.stop()
    } else if (strategy === 'restart') {
      this._state = 'starting'
      this._call('started')
    }
  }

  private _decide(): SupervisionStrategy {
    const rule = this._supervision
    if (rule.strategy !== 'restart') return rule.strategy
    const t = now()
    this._restarts = this._restarts.filter((at) => t - at < rule.withinMs)
    if (this._restarts.length >= rule.maxRestarts) return 'stop'
    this._restarts.push(t)
    return 'restart'
  }

  private _finishStop(): void {
    if (this._state === 'stopped') return
    this._state = 'stopped'
    this._stopRequested = false
    for (const child of [...this.children.values()]) child.stop()
    this._call('stopped')
    while (this._mailbox.length > 0) {
      const message = this._mailbox.take()
      this._host.deadLetter(this.ref.path, message, this._mailbox.takenSender, 'stopped')
    }
    this._host.cellStopped(this)
  }

  /** Delivers a Terminated signal to this actor (over its mailbox bound: it must arrive). */
  terminated(ref: ActorRef, reason: TerminationReason): void {
    if (!this.watching.delete(refKey(ref))) return
    this.enqueue(new Terminated(ref, reason), null, true)
  }
}

class Context implements ActorContext<unknown> {
  private _cell: ActorCell
  private _host: CellHost
  private _log: Logger | null

  constructor(cell: ActorCell, host: CellHost) {
    this._cell = cell
    this._host = host
    this._log = null
  }

  get self(): ActorRef {
    return this._cell.ref
  }

  get sender(): ActorRef | null {
    return this._cell.sender
  }

  /** The system's log, each line prefixed with this actor's path. */
  get log(): Logger {
    if (this._log === null) this._log = scopedLogger(this._host.log, this._cell.path)
    return this._log
  }

  reply(value: unknown): void {
    this._cell.reply(value)
  }

  spawn<C>(name: string | null, behavior: Behavior<C>, opts: SpawnOptions = {}): ActorRef<C> {
    return this._host.spawnChild(this._cell, name, behavior, opts)
  }

  stop(ref?: ActorRef): void {
    if (ref === undefined || ref.equals(this._cell.ref)) this._cell.stop()
    else this._host.stopRef(ref)
  }

  watch(ref: ActorRef): void {
    this._host.watch(this._cell, ref)
  }

  unwatch(ref: ActorRef): void {
    this._host.unwatch(this._cell, ref)
  }

  become(behavior: Behavior<unknown>): void {
    this._cell.become(behavior)
  }
}

function asObject(behavior: Behavior<unknown>): BehaviorObject<unknown> {
  if (typeof behavior === 'function') return { receive: behavior }
  if (behavior === null || typeof behavior !== 'object' || typeof behavior.receive !== 'function') {
    throw ClusterError.BAD_OPTIONS('a behavior is a function (msg, ctx) or an object with receive(msg, ctx)')
  }
  return behavior
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof (x as { then?: unknown }).then === 'function'
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
