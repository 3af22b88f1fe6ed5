// What users write: a behavior handles one message at a time through a context.

import type { Logger } from '../logger.ts'
import type { ActorRef } from './actor-ref.ts'
import type { MailboxOptions } from './mailbox.ts'

export interface ActorContext<M = unknown> {
  readonly self: ActorRef<M>
  /** Who sent the message being handled (null when nobody said). */
  readonly sender: ActorRef | null
  readonly log: Logger
  /** Answers the sender: resolves their ask, or tells their actor. */
  reply(value: unknown): void
  spawn<C>(name: string | null, behavior: Behavior<C>, opts?: SpawnOptions): ActorRef<C>
  /** Stops this actor (after the current message) or a local one. */
  stop(ref?: ActorRef): void
  /** Delivers a Terminated message when `ref` stops or its node is marked down. */
  watch(ref: ActorRef): void
  unwatch(ref: ActorRef): void
  /** Handles the next messages with another behavior. */
  become(behavior: Behavior<M>): void
}

/**
 * A function, or an object whose `receive` is called with `this` bound (so classes work).
 * `started` runs before the first message and again after each restart (reset state there);
 * `stopped` runs once when the actor stops. Returning a promise makes the actor wait for it.
 */
export type Receive<M> = (msg: M, ctx: ActorContext<M>) => unknown

export interface BehaviorObject<M> {
  receive(msg: M, ctx: ActorContext<M>): unknown
  started?(ctx: ActorContext<M>): unknown
  stopped?(ctx: ActorContext<M>): unknown
}

export type Behavior<M> = Receive<M> | BehaviorObject<M>

/**
 * What happens when handling a message throws: restart (call `started` again and go on with the
 * next message), resume (just go on), or stop. Restarts beyond maxRestarts within withinMs stop
 * the actor.
 */
export type SupervisionStrategy = 'restart' | 'resume' | 'stop'

/** What an actor's parent does when its behavior throws (`SpawnOptions.supervision`). */
export interface Supervision {
  /**
   * restart, resume or stop (see SupervisionStrategy).
   * @default 'restart'
   */
  strategy?: SupervisionStrategy
  /**
   * Restarts allowed within `withinMs`; one more stops the actor.
   * @default 10
   */
  maxRestarts?: number
  /**
   * The window restarts are counted in.
   * @default 60000
   */
  withinMs?: number
}

export const SUPERVISION_DEFAULTS = {
  strategy: 'restart',
  maxRestarts: 10,
  withinMs: 60_000
} as const

/** What `spawn` takes besides a name and a behavior. */
export interface SpawnOptions {
  /**
   * This actor's mailbox.
   * @default the system's `mailbox` option, else MAILBOX_DEFAULTS
   */
  mailbox?: MailboxOptions
  /**
   * A strategy name, or the full settings.
   * @default SUPERVISION_DEFAULTS (restart, at most 10 times in 60 s)
   */
  supervision?: SupervisionStrategy | Supervision
}

export type TerminationReason = 'stopped' | 'node-down' | 'no-such-actor'

/** The message a watcher gets when an actor it watches is gone. */
export class Terminated {
  /** The actor that is gone. */
  readonly ref: ActorRef
  /** `stopped`, `node-down` (its node was downed or removed) or `no-such-actor`. */
  readonly reason: TerminationReason

  /** Made by the system for watchers; tests may make one to compare. */
  constructor(ref: ActorRef, reason: TerminationReason) {
    this.ref = ref
    this.reason = reason
  }
}
