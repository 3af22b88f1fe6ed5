// The timeouts of pending asks, on one timer per actor system instead of one per ask. Asks with
// the same timeout expire in the order they were made, so each timeout value keeps its asks in
// insertion order and only the oldest of each can be due; the timer is armed for the earliest
// of those. An answered ask is just forgotten, and while no ask waits the timer holds the
// process up no longer (it is unref'd), as a cleared per-ask timer would not.

import { now } from '../../backends/clock.ts'
import { refTimer } from '../../backends/timers.ts'

// The longest wait a runtime's setTimeout takes; above it, timers fire at once.
const MAX_TIMEOUT_MS = 2 ** 31 - 1

export class AskTimeouts {
  /** Per timeout in ms: the paths of pending asks, oldest first, with their deadlines. */
  private _queues: Map<number, Map<string, number>>
  private _size: number
  private _timer: TimerHandle | null
  /** When the timer fires (monotonic ms), or Infinity when no timer is set. */
  private _armedAt: number
  private _onexpire: (path: string) => void
  private _onfire: () => void

  constructor(onexpire: (path: string) => void) {
    this._queues = new Map()
    this._size = 0
    this._timer = null
    this._armedAt = Infinity
    this._onexpire = onexpire
    this._onfire = () => this._fire()
  }

  /** Pending asks. */
  get size(): number {
    return this._size
  }

  /** The timeout an ask really gets: 0 for one not above 0, at most about 24 days. */
  static normalize(timeoutMs: number): number {
    return timeoutMs > 0 ? Math.min(timeoutMs, MAX_TIMEOUT_MS) : 0
  }

  /** `timeoutMs` as `normalize` gives it, and the same value to `delete` the ask. */
  add(path: string, timeoutMs: number): void {
    const deadline = now() + timeoutMs
    let queue = this._queues.get(timeoutMs)
    if (queue === undefined) {
      queue = new Map()
      this._queues.set(timeoutMs, queue)
    }
    queue.set(path, deadline)
    if (this._size++ === 0 && this._timer !== null) refTimer(this._timer, true)
    if (deadline < this._armedAt) this._arm(deadline)
  }

  /** Forgets the ask at `path` (answered or failed); false when it was not pending. */
  delete(path: string, timeoutMs: number): boolean {
    const queue = this._queues.get(timeoutMs)
    if (queue === undefined || !queue.delete(path)) return false
    if (queue.size === 0) this._queues.delete(timeoutMs)
    if (--this._size === 0 && this._timer !== null) refTimer(this._timer, false)
    return true
  }

  clear(): void {
    this._queues.clear()
    this._size = 0
    if (this._timer !== null) clearTimeout(this._timer)
    this._timer = null
    this._armedAt = Infinity
  }

  private _arm(at: number): void {
    if (this._timer !== null) clearTimeout(this._timer)
    this._armedAt = at
    this._timer = setTimeout(this._onfire, Math.max(0, at - now()))
  }

  private _fire(): void {
    this._timer = null
    this._armedAt = Infinity
    const at = now()
    const due: [path: string, timeoutMs: number][] = []
    let next = Infinity
    for (const [timeoutMs, queue] of this._queues) {
      for (const [path, deadline] of queue) {
        if (deadline > at) {
          if (deadline < next) next = deadline
          break
        }
        due.push([path, timeoutMs])
      }
    }
    // Forget and expire after the walk, which must not see its queues change under it.
    for (const [path, timeoutMs] of due) {
      this.delete(path, timeoutMs)
      this._onexpire(path)
    }
    if (next < this._armedAt) this._arm(next)
    if (this._timer !== null && this._size === 0) refTimer(this._timer, false)
  }
}
