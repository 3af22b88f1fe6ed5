// When a SwarmTransport's topic discovery looks again. Once right after its first flush: nodes
// that joined at the same moment looked before any of them was announced, and the next look
// hyperswarm makes by itself is minutes away. Then, while some peer is wanted and not connected
// (or none is connected at all), again after a wait that doubles while that brings nothing, up
// to a ceiling; a new connection starts the wait from the shortest again.

import type { Logger } from '../logger.ts'
import type { SwarmDiscovery } from './swarm-options.ts'

export class DiscoverySchedule {
  private _discovery: SwarmDiscovery | null
  private _intervalMs: number
  private _maxMs: number
  private _wait: number
  private _nextAt: number
  private _log: Logger

  constructor(intervalMs: number, maxMs: number, log: Logger) {
    this._discovery = null
    this._intervalMs = intervalMs
    this._maxMs = maxMs
    this._wait = intervalMs
    this._nextAt = 0
    this._log = log
  }

  /** Takes the topic's discovery once it has flushed, and looks again at once. */
  start(discovery: SwarmDiscovery, t: number): void {
    this._discovery = discovery
    this._refresh(t)
  }

  /** No more looks; returns the discovery (for the caller to destroy), if any. */
  stop(): SwarmDiscovery | null {
    const discovery = this._discovery
    this._discovery = null
    return discovery
  }

  /** A peer connected: the next look, when one is due, comes after the shortest wait. */
  connected(): void {
    this._wait = this._intervalMs
  }

  /** One tick of the transport: `wanting` peers wait for a connection, `connected` have one. */
  tick(t: number, wanting: number, connected: number): void {
    if ((wanting > 0 || connected === 0) && t >= this._nextAt) {
      this._refresh(t)
      this._wait = Math.min(this._wait * 2, this._maxMs)
    }
  }

  private _refresh(t: number): void {
    const discovery = this._discovery
    if (discovery === null) return
    this._nextAt = t + this._wait
    discovery.refresh({ client: true, server: true }).catch((err: unknown) => {
      if (this._discovery !== null) this._log.debug(`discovery refresh failed: ${err instanceof Error ? err.message : String(err)}`)
    })
  }
}
