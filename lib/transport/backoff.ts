// Exponential backoff with full jitter, per peer: the n-th consecutive failure waits a random
// time in [delay/2, delay], delay = min(max, base * 2^n). A success resets it.

/** What `new Backoff(options)` takes. */
export interface BackoffOptions {
  /**
   * The delay after the first failure (before jitter).
   * @default 100
   */
  baseMs?: number
  /**
   * The longest delay, however many failures.
   * @default 10000
   */
  maxMs?: number
  /**
   * The source of jitter, a function returning [0, 1).
   * @default Math.random
   */
  random?: () => number
}

export const DEFAULT_BACKOFF_BASE_MS = 100
export const DEFAULT_BACKOFF_MAX_MS = 10_000

/**
 * Exponential backoff with jitter: the n-th failure in a row waits a random time between half
 * and all of min(maxMs, baseMs * 2^n). The transports keep one per peer for redials.
 */
export class Backoff {
  /**
   * The delay after the first failure (before jitter).
   * @default 100
   */
  readonly baseMs: number
  /**
   * The longest delay.
   * @default 10000
   */
  readonly maxMs: number
  /** Failures in a row since the last `reset()`. */
  failures: number
  private _random: () => number

  /** A backoff with no failures yet. */
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

  /** A success: the next failure waits `baseMs` again. */
  reset(): void {
    this.failures = 0
  }
}
