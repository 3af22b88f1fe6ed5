// Asking the seeds to let this node in: the whole digest to every seed, again with backoff until
// one answers (the node has then joined and the asking stops).

import type { NodeAddress } from '../node-address.ts'
import { Backoff } from '../transport/backoff.ts'
import type { ClusterContext } from './context.ts'
import type { Diagnostics } from './diagnostics.ts'

export class SeedContact {
  private _ctx: ClusterContext
  private _seeds: NodeAddress[]
  private _diagnostics: Diagnostics
  private _sendDigest: (to: NodeAddress) => void
  private _joined: () => boolean
  private _backoff: Backoff
  private _timer: TimerHandle | null

  constructor(ctx: ClusterContext, seeds: NodeAddress[], diagnostics: Diagnostics, sendDigest: (to: NodeAddress) => void, joined: () => boolean) {
    this._ctx = ctx
    this._seeds = seeds
    this._diagnostics = diagnostics
    this._sendDigest = sendDigest
    this._joined = joined
    this._backoff = new Backoff({ baseMs: ctx.opts.seedRetryBaseMs, maxMs: ctx.opts.seedRetryMaxMs })
    this._timer = null
  }

  /** Asks every seed now, and again after a backoff unless one answers. */
  contact(): void {
    if (this._ctx.stopped || this._joined()) return
    for (const seed of this._seeds) if (!seed.equals(this._ctx.self)) this._sendDigest(seed)
    const first = this._backoff.failures === 0
    const wait = this._backoff.fail()
    if (!first) this._diagnostics.firstSeedRetry(wait)
    this._ctx.log.debug(`asked the seeds to let this node in; again in ${wait} ms unless one answers`)
    this._timer = setTimeout(() => this.contact(), wait)
  }

  /** Stops asking. */
  stop(): void {
    if (this._timer !== null) clearTimeout(this._timer)
    this._timer = null
  }
}
