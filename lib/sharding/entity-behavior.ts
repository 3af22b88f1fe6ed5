// What an entity runs: the user's behavior inside a wrapper that tells the sharding layer when a
// message has been handled (so its storage can mark it done), when the entity stops, and that
// stops it on request after the messages already in its mailbox.

import { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { ActorRef } from '../actors/actor-ref.ts'
import type { ActorContext, Behavior, BehaviorObject, SpawnOptions } from '../actors/behavior.ts'

/** One message for an entity, with the id its storage gave it (0 when none did). */
export class EntityDelivery {
  readonly storedId: number
  readonly message: unknown

  constructor(storedId: number, message: unknown) {
    this.storedId = storedId
    this.message = message
  }
}

/** Sent to an entity to stop it once what is ahead of it in the mailbox is handled. */
export const STOP_ENTITY: object = Object.freeze({ stopEntity: true })

/** What the sharding layer learns from a running entity. */
export interface EntityHooks {
  /** Set while the entity handles a message (until its promise settles, for an async one). */
  busy: boolean
  /** The entity handled a message (or failed on it); `storedId` 0 for one no storage holds. */
  done(storedId: number): void
  onstopped(): void
}

export function entityBehavior(user: Behavior<unknown>, hooks: EntityHooks): BehaviorObject<unknown> {
  let current = asObject(user)
  let wrapped: ActorContext<unknown> | null = null
  const context = (ctx: ActorContext<unknown>): ActorContext<unknown> => {
    if (wrapped === null) wrapped = new EntityContext(ctx, (b) => (current = asObject(b)))
    return wrapped
  }
  return {
    started(ctx) {
      return current.started?.call(current, context(ctx))
    },
    receive(msg, ctx) {
      if (msg === STOP_ENTITY) {
        ctx.stop()
        return undefined
      }
      // A message the storage holds comes wrapped with its id; any other comes as it is.
      let storedId = 0
      let message = msg
      if (msg instanceof EntityDelivery) {
        storedId = msg.storedId
        message = msg.message
      }
      hooks.busy = true
      let result: unknown
      try {
        result = current.receive(message, context(ctx))
      } catch (err) {
        hooks.done(storedId)
        throw err
      }
      if (!isThenable(result)) {
        hooks.done(storedId)
        return result
      }
      return result.then(
        (v) => {
          hooks.done(storedId)
          return v
        },
        (err: unknown) => {
          hooks.done(storedId)
          throw err
        }
      )
    },
    stopped(ctx) {
      try {
        return current.stopped?.call(current, context(ctx))
      } finally {
        hooks.onstopped()
      }
    }
  }
}

// The actor's own context, except that `become` swaps the behavior inside the wrapper.
class EntityContext implements ActorContext<unknown> {
  private _ctx: ActorContext<unknown>
  private _become: (b: Behavior<unknown>) => void

  constructor(ctx: ActorContext<unknown>, become: (b: Behavior<unknown>) => void) {
    this._ctx = ctx
    this._become = become
  }

  get self(): ActorRef<unknown> {
    return this._ctx.self
  }

  get sender(): ActorRef | null {
    return this._ctx.sender
  }

  get log(): Logger {
    return this._ctx.log
  }

  reply(value: unknown): void {
    this._ctx.reply(value)
  }

  spawn<C>(name: string | null, behavior: Behavior<C>, opts?: SpawnOptions): ActorRef<C> {
    return this._ctx.spawn(name, behavior, opts)
  }

  stop(ref?: ActorRef): void {
    this._ctx.stop(ref)
  }

  watch(ref: ActorRef): void {
    this._ctx.watch(ref)
  }

  unwatch(ref: ActorRef): void {
    this._ctx.unwatch(ref)
  }

  become(behavior: Behavior<unknown>): void {
    this._become(behavior)
  }
}

function asObject(behavior: Behavior<unknown>): BehaviorObject<unknown> {
  if (typeof behavior === 'function') return { receive: behavior }
  if (behavior === null || typeof behavior !== 'object' || typeof behavior.receive !== 'function') {
    throw ClusterError.BAD_OPTIONS('an entity behavior is a function (msg, ctx) or an object with receive(msg, ctx)')
  }
  return behavior
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof (x as { then?: unknown }).then === 'function'
}
