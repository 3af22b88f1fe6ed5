// A graceful leave: the tasks registered to run first (a layer above hands its work over), then
// this node says it is leaving, tells every member, and waits to be removed (bounded by
// leaveTimeoutMs) before it shuts down.

import { now } from '../../backends/clock.ts'
import type { NodeAddress } from '../node-address.ts'
import { others, type ClusterContext } from './context.ts'

export interface LeaveHooks {
  sendDigest(to: NodeAddress): void
  shutdown(): Promise<void>
}

export class Leave {
  /** True once this node has said it is leaving. */
  leaving: boolean
  private _ctx: ClusterContext
  private _hooks: LeaveHooks
  private _tasks: Set<() => Promise<void>>
  private _prepared: Promise<void> | null

  constructor(ctx: ClusterContext, hooks: LeaveHooks) {
    this._ctx = ctx
    this._hooks = hooks
    this.leaving = false
    this._tasks = new Set()
    this._prepared = null
  }

  /** Adds a task to run before leaving; returns a remover. */
  add(task: () => Promise<void>): () => void {
    this._tasks.add(task)
    return () => this._tasks.delete(task)
  }

  /** Runs the tasks, once. */
  prepare(): Promise<void> {
    if (this._prepared === null) this._prepared = this._runTasks()
    return this._prepared
  }

  async leave(): Promise<void> {
    const ctx = this._ctx
    if (ctx.stopped) return
    await this.prepare()
    if (ctx.stopped) return
    if (ctx.clientOnly) return this._hooks.shutdown()
    this.leaving = true
    ctx.membership.updateOwn({ status: 'leaving' })
    ctx.publish()
    const deadline = now() + ctx.opts.leaveTimeoutMs
    while (!ctx.stopped && now() < deadline) {
      const own = ctx.membership.own.status
      if (own === 'removed') break
      // Tell everyone, not just one member a round.
      for (const m of others(ctx)) this._hooks.sendDigest(m.address)
      await sleep(Math.min(ctx.opts.gossipIntervalMs, 200))
      if (ctx.membership.members().every((m) => m.address.equals(ctx.self) || m.status === 'removed' || m.status === 'down')) break
    }
    await this._hooks.shutdown()
  }

  private async _runTasks(): Promise<void> {
    const ctx = this._ctx
    if (this._tasks.size === 0 || ctx.stopped) return
    let timer: TimerHandle | null = null
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        ctx.log.warn(`tasks before leaving took more than ${ctx.opts.leaveTimeoutMs} ms; leaving anyway`)
        resolve()
      }, ctx.opts.leaveTimeoutMs)
    })
    const tasks = [...this._tasks].map((task) => task().catch((err: unknown) => ctx.log.warn('a task before leaving failed', err)))
    await Promise.race([Promise.all(tasks), timeout])
    if (timer !== null) clearTimeout(timer)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
