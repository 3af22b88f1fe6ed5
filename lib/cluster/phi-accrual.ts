// Phi-accrual failure detection: instead of a yes/no timeout, a suspicion level phi that grows
// with the time since the last heartbeat, scaled by how regular heartbeats have been. phi = 1
// means about a 10% chance the member is still alive and merely late, phi = 8 about 1e-8.

/** The phi accrual failure detector's settings (`ClusterOptions.failureDetector`). */
export interface PhiAccrualOptions {
  /**
   * phi at or above which the member counts as unreachable.
   * @default 8
   */
  threshold?: number
  /**
   * How many recent intervals to keep.
   * @default 200
   */
  maxSampleSize?: number
  /**
   * Floor for the standard deviation, so perfectly regular heartbeats do not make phi jumpy.
   * @default 100
   */
  minStdDeviationMs?: number
  /**
   * Pause tolerated on top of the mean interval (garbage collection, a busy event loop).
   * @default 3000
   */
  acceptableHeartbeatPauseMs?: number
  /**
   * Assumed interval before any sample exists.
   * @default 1000 (the cluster passes its heartbeatIntervalMs)
   */
  firstHeartbeatEstimateMs?: number
}

export const PHI_DEFAULTS = {
  threshold: 8,
  maxSampleSize: 200,
  minStdDeviationMs: 100,
  acceptableHeartbeatPauseMs: 3000,
  firstHeartbeatEstimateMs: 1000
} as const

/**
 * The phi accrual failure detector: from the intervals between a member's heartbeats it gives
 * phi, how unlikely the present silence is (-log10 of its probability). The member counts as
 * unavailable when phi reaches `threshold`. Times are monotonic milliseconds (`monotonicNow()`).
 */
export class PhiAccrualDetector {
  /**
   * Phi at and above which the member is taken as unavailable.
   * @default 8
   */
  readonly threshold: number
  /**
   * The smallest standard deviation used, so very regular heartbeats do not make phi jump.
   * @default 100
   */
  readonly minStdDeviationMs: number
  /**
   * Added to the mean interval: a silence this much longer than usual is still normal.
   * @default 3000
   */
  readonly acceptableHeartbeatPauseMs: number
  private _max: number
  private _intervals: number[]
  private _next: number
  private _sum: number
  private _sumSquares: number
  private _last: number | null

  /** A detector seeded with `firstHeartbeatEstimateMs`, before any heartbeat. */
  constructor(opts: PhiAccrualOptions = {}) {
    this.threshold = opts.threshold ?? PHI_DEFAULTS.threshold
    this.minStdDeviationMs = opts.minStdDeviationMs ?? PHI_DEFAULTS.minStdDeviationMs
    this.acceptableHeartbeatPauseMs = opts.acceptableHeartbeatPauseMs ?? PHI_DEFAULTS.acceptableHeartbeatPauseMs
    this._max = opts.maxSampleSize ?? PHI_DEFAULTS.maxSampleSize
    this._intervals = []
    this._next = 0
    this._sum = 0
    this._sumSquares = 0
    this._last = null
    // Seed with an estimate so a member that never sends a second heartbeat still accrues phi.
    const first = opts.firstHeartbeatEstimateMs ?? PHI_DEFAULTS.firstHeartbeatEstimateMs
    this._add(first - first / 4)
    this._add(first + first / 4)
  }

  /** When the last heartbeat was recorded, or null before the first. */
  get lastHeartbeatAt(): number | null {
    return this._last
  }

  /** Records a heartbeat that arrived at `at`. */
  heartbeat(at: number): void {
    if (this._last !== null && at > this._last) this._add(at - this._last)
    this._last = at
  }

  /** Phi at time `at`: 0 before the first heartbeat, then growing with the silence since. */
  phi(at: number): number {
    if (this._last === null) return 0
    const n = this._intervals.length
    const mean = this._sum / n + this.acceptableHeartbeatPauseMs
    const variance = Math.max(0, this._sumSquares / n - (this._sum / n) ** 2)
    const std = Math.max(Math.sqrt(variance), this.minStdDeviationMs)
    return phiOf(at - this._last, mean, std)
  }

  /** Whether phi at `at` is still below `threshold`. */
  isAvailable(at: number): boolean {
    return this.phi(at) < this.threshold
  }

  private _add(interval: number): void {
    if (this._intervals.length < this._max) {
      this._intervals.push(interval)
    } else {
      const old = this._intervals[this._next]!
      this._sum -= old
      this._sumSquares -= old * old
      this._intervals[this._next] = interval
      this._next = (this._next + 1) % this._max
    }
    this._sum += interval
    this._sumSquares += interval * interval
  }
}

// -log10 of the probability that a normal(mean, std) interval is longer than `elapsed`, using a
// logistic approximation of the normal distribution's tail.
function phiOf(elapsed: number, mean: number, std: number): number {
  const y = (elapsed - mean) / std
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y))
  if (elapsed > mean) return -Math.log10(e / (1 + e))
  return -Math.log10(1 - 1 / (1 + e))
}
