// Runs actors that have mail. Each gets up to THROUGHPUT messages a turn, round robin; after
// BUDGET messages in one go the dispatcher lets timers and sockets run before it carries on, so
// actors sending to each other in a loop cannot starve the network.

const THROUGHPUT = 64
const BUDGET = 20_000

export interface Runnable {
  /** Handles up to `max` messages; returns how many it handled. */
  run(max: number): number
  /** True while it has mail and is not busy with an async message. */
  readonly runnable: boolean
  /** Set by the dispatcher while the actor is in its ready queue. */
  inReady: boolean
}

export class Dispatcher {
  private _ready: Runnable[]
  private _scheduled: boolean
  private _drain: () => void

  constructor() {
    this._ready = []
    this._scheduled = false
    this._drain = () => this._ondrain()
  }

  /** Puts an actor with mail in the queue, unless it is there already. */
  schedule(r: Runnable): void {
    if (r.inReady) return
    r.inReady = true
    this._ready.push(r)
    if (!this._scheduled) {
      this._scheduled = true
      queueMicrotask(this._drain)
    }
  }

  private _ondrain(): void {
    let budget = BUDGET
    while (this._ready.length > 0 && budget > 0) {
      const batch = this._ready
      this._ready = []
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i]!
        budget -= r.run(THROUGHPUT)
        if (r.runnable) this._ready.push(r)
        else r.inReady = false
      }
    }
    if (this._ready.length > 0) setTimeout(this._drain, 0)
    else this._scheduled = false
  }
}
