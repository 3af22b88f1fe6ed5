// `cluster.ready()`: one promise per caller that settles when this node is up (a client-only
// node: when it has a view of the cluster), or fails when the time runs out or the node stops.

import { ClusterError } from '../errors.ts'

/** What `cluster.ready()` takes. */
export interface ReadyOptions {
  /**
   * How long to wait before failing with READY_TIMEOUT.
   * @default 30000
   */
  timeoutMs?: number
}

export const READY_DEFAULTS = {
  timeoutMs: 30_000
} as const

interface Waiter {
  resolve(): void
  reject(err: ClusterError): void
  timer: TimerHandle
}

export class Readiness {
  private _isReady: () => boolean
  /** Says what was tried when the time runs out. */
  private _explain: (timeoutMs: number) => string
  private _waiters: Set<Waiter>
  private _stopped: ClusterError | null

  constructor(isReady: () => boolean, explain: (timeoutMs: number) => string) {
    this._isReady = isReady
    this._explain = explain
    this._waiters = new Set()
    this._stopped = null
  }

  wait(opts: ReadyOptions = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? READY_DEFAULTS.timeoutMs
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) return Promise.reject(ClusterError.BAD_OPTIONS('timeoutMs is a number of milliseconds'))
    if (this._stopped !== null) return Promise.reject(this._stopped)
    if (this._isReady()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this._waiters.delete(waiter)
          reject(ClusterError.READY_TIMEOUT(this._explain(timeoutMs)))
        }, timeoutMs)
      }
      this._waiters.add(waiter)
    })
  }

  /** Called whenever membership may have changed. */
  update(): void {
    if (this._waiters.size === 0 || !this._isReady()) return
    for (const w of this._waiters) {
      clearTimeout(w.timer)
      w.resolve()
    }
    this._waiters.clear()
  }

  /**
   * Lets go of every pending wait without settling it (and of its timer): the process is about
   * to exit, and a rejection now would reach the caller's await as an unhandled error first.
   */
  abandon(): void {
    for (const w of this._waiters) clearTimeout(w.timer)
    this._waiters.clear()
  }

  stop(err: ClusterError): void {
    if (this._stopped === null) this._stopped = err
    for (const w of this._waiters) {
      clearTimeout(w.timer)
      w.reject(err)
    }
    this._waiters.clear()
  }
}
