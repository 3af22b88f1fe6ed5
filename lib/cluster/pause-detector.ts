// Notices when this node itself was the one asleep: a timer meant to fire every `intervalMs`
// that fires much later means the process was stopped (a long collection, a laptop lid, SIGSTOP)
// and heard nothing while it slept. Judging others on that tick would accuse the healthy ones.

export class PauseDetector {
  readonly intervalMs: number
  readonly acceptablePauseMs: number
  private _last: number | null

  constructor(intervalMs: number, acceptablePauseMs: number) {
    this.intervalMs = intervalMs
    this.acceptablePauseMs = acceptablePauseMs
    this._last = null
  }

  /**
   * Called on every tick with the monotonic time; true when this tick came later than the
   * interval plus the acceptable pause after the previous one.
   */
  tick(t: number): boolean {
    const last = this._last
    this._last = t
    return last !== null && t - last > this.intervalMs + this.acceptablePauseMs
  }

  /** Forgets the last tick (timers stopped on purpose, or restarted). */
  reset(): void {
    this._last = null
  }
}
