// Exponential backoff with full jitter, per peer: the n-th consecutive failure waits a random
// time in [delay/2, delay], delay = min(max, base * 2^n). A success resets it.

export interface BackoffOptions {
  baseMs?: number
  maxMs?: number
  random?: () => number
}

export const DEFAULT_BACKOFF_BASE_MS = 100
export const DEFAULT_BACKOFF_MAX_MS = 10_000

export class Backoff {
  readonly baseMs: number
  readonly maxMs: number
  failures: number
  private _random: () => number

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? DEFAULT_BACKOFF_BASE_MS
    this.maxMs = opts.maxMs ?? DEFAULT_BACKOFF_MAX_MS
    this.failures = 0
    this._random = opts.random ?? Math.random
  }

  /** The wait before the next attempt, counting this failure. */
  fail(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures, 30))
    this.failures++
    return Math.round(ceiling / 2 + (this._random() * ceiling) / 2)
  }

  reset(): void {
    this.failures = 0
  }
}
