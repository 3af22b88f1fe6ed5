// The leader's side of sharding: it alone decides which runner node owns each shard. It learns
// from every node's reports what the node can host and hosts, and each round it frees the shards
// of nodes that are gone, starts handoffs of the shards of leaving nodes (and, to even out the
// count, of the busiest ones: a bounded number at a time), and gives unowned shards to the least
// loaded runner. A handoff publishes the shard with no owner, waits for the old owner to say its
// entities have stopped, and only then gives it to the new one. Every change is a new version,
// sent to every node that reports.

import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'
import type { Member } from '../cluster/membership.ts'
import { SHARDING_TAG, type ShardAllocation, type ShardingMessage, type ShardingReport } from './messages.ts'

export interface CoordinatorHost {
  readonly self: NodeAddress
  readonly numberOfShards: number
  members(): Member[]
  send(to: NodeAddress, m: ShardingMessage): void
  /** The leader's own copy of what it publishes. */
  applyLocal(allocation: ShardAllocation): void
}

export interface CoordinatorOptions {
  maxMovesPerRound: number
  /** A new leader waits this long for reports before changing anything. */
  settleMs: number
  /** Reports older than this are forgotten (a client-only node that went away). */
  reportTtlMs: number
}

interface Report {
  address: NodeAddress
  report: ShardingReport
  at: number
}

interface Handoff {
  from: string
  to: string | null
  at: number
}

export class Coordinator {
  active: boolean
  handoffsCompleted: number
  refusedNodes: number
  private _host: CoordinatorHost
  private _opts: CoordinatorOptions
  private _log: Logger
  private _version: number
  private _owners: Map<string, (string | null)[]>
  private _handoffs: Map<string, Handoff>
  private _reports: Map<string, Report>
  private _activeSince: number

  constructor(host: CoordinatorHost, opts: CoordinatorOptions, log: Logger) {
    this.active = false
    this.handoffsCompleted = 0
    this.refusedNodes = 0
    this._host = host
    this._opts = opts
    this._log = log
    this._version = 0
    this._owners = new Map()
    this._handoffs = new Map()
    this._reports = new Map()
    this._activeSince = 0
  }

  get handoffsInProgress(): number {
    return this._handoffs.size
  }

  /** This node became the leader: it goes on from the last allocation it was sent. */
  activate(version: number, owners: Map<string, (string | null)[]>): void {
    this.active = true
    this._activeSince = Date.now()
    this._version = Math.max(this._version, version)
    this._owners = new Map([...owners].map(([type, list]) => [type, [...list]]))
    this._handoffs.clear()
    this._reports.clear()
  }

  deactivate(): void {
    this.active = false
    this._handoffs.clear()
    this._reports.clear()
  }

  onreport(from: NodeAddress, report: ShardingReport): void {
    if (!this.active) return
    const n = this._host.numberOfShards
    if (report.numberOfShards !== n) {
      this.refusedNodes++
      this._reports.delete(from.toString())
      this._log.warn(`refusing ${from.toString()}: it has ${report.numberOfShards} shards, the cluster ${n}`)
      this._host.send(from, {
        tag: SHARDING_TAG.REFUSED,
        numberOfShards: n,
        reason: `this cluster has ${n} shards, not ${report.numberOfShards}`
      })
      return
    }
    this._reports.set(from.toString(), { address: from, report, at: Date.now() })
    // A node that has an allocation from a leader this one never heard goes on past its version.
    if (report.version > this._version) this._version = report.version
    else if (report.version < this._version && this._version > 0) this._host.send(from, this._allocation())
  }

  onshardstopped(from: NodeAddress, type: string, shards: number[]): void {
    if (!this.active) return
    let changed = false
    for (const s of shards) {
      const h = this._handoffs.get(handoffKey(type, s))
      if (h !== undefined && h.from === from.toString()) changed = this._complete(type, s, h) || changed
    }
    if (changed) this._publish()
  }

  tick(): void {
    if (!this.active) return
    const t = Date.now()
    if (t - this._activeSince < this._opts.settleMs) return
    const members = this._host.members()
    const alive = new Set<string>()
    const up = new Set<string>()
    for (const m of members) {
      const key = m.address.toString()
      if (m.status === 'joining' || m.status === 'up' || m.status === 'leaving') alive.add(key)
      if (m.status === 'up' && m.reachable) up.add(key)
    }
    for (const [key, r] of this._reports) {
      if (!alive.has(key) && (members.some((m) => m.address.toString() === key) || t - r.at > this._opts.reportTtlMs)) this._reports.delete(key)
    }
    const types = new Set(this._owners.keys())
    for (const r of this._reports.values()) for (const ty of r.report.types) if (ty.host) types.add(ty.name)
    let changed = false
    let budget = this._opts.maxMovesPerRound - this._handoffs.size
    for (const type of types) {
      let owners = this._owners.get(type)
      if (owners === undefined) this._owners.set(type, (owners = new Array<string | null>(this._host.numberOfShards).fill(null)))
      const runners: string[] = []
      for (const [key, r] of this._reports) {
        if (!up.has(key) || r.report.leaving) continue
        if (r.report.types.some((ty) => ty.name === type && ty.host)) runners.push(key)
      }
      runners.sort()
      const load = new Map<string, number>(runners.map((k) => [k, 0]))
      for (const o of owners) if (o !== null && load.has(o)) load.set(o, load.get(o)! + 1)
      for (const [key, h] of this._handoffs) if (key.startsWith(type + '\0') && h.to !== null && load.has(h.to)) load.set(h.to, load.get(h.to)! + 1)

      for (let s = 0; s < owners.length; s++) {
        const h = this._handoffs.get(handoffKey(type, s))
        if (h !== undefined) {
          // The old owner is gone, or says in a later report that it no longer hosts the shard.
          const r = this._reports.get(h.from)
          const done = !alive.has(h.from) || (r !== undefined && r.at > h.at && !hosts(r.report, type, s))
          if (done) changed = this._complete(type, s, h) || changed
          continue
        }
        const o = owners[s]!
        if (o === null) continue
        if (!alive.has(o)) {
          this._log.info(`shard ${type}/${s} of ${o}, which is gone, is free`)
          owners[s] = null
          changed = true
        } else if (!load.has(o) && budget > 0 && (up.has(o) || this._reports.get(o)?.report.leaving === true)) {
          // Owned by a node that is leaving or no longer hosts the type.
          changed = this._startHandoff(type, s, o, leastLoaded(load, null), load) || changed
          budget--
        }
      }
      // Unowned shards to the least loaded runner, unless some node still says it hosts them.
      for (let s = 0; s < owners.length && runners.length > 0; s++) {
        if (owners[s] !== null || this._handoffs.has(handoffKey(type, s))) continue
        if (this._hostedElsewhere(type, s, alive)) continue
        const to = leastLoaded(load, null)!
        owners[s] = to
        load.set(to, load.get(to)! + 1)
        changed = true
      }
      // Even out: one shard from the busiest runner to the least busy, while they differ by two.
      while (budget > 0 && runners.length > 1) {
        const most = mostLoaded(load)!
        const least = leastLoaded(load, null)!
        if (load.get(most)! - load.get(least)! <= 1) break
        const s = owners.findIndex((o, i) => o === most && !this._handoffs.has(handoffKey(type, i)))
        if (s === -1) break
        this._startHandoff(type, s, most, least, load)
        changed = true
        budget--
      }
    }
    if (changed) this._publish()
  }

  private _startHandoff(type: string, s: number, from: string, to: string | null, load: Map<string, number>): boolean {
    const owners = this._owners.get(type)!
    owners[s] = null
    if (load.has(from)) load.set(from, load.get(from)! - 1)
    if (to !== null) load.set(to, load.get(to)! + 1)
    this._handoffs.set(handoffKey(type, s), { from, to, at: Date.now() })
    this._log.debug(`handing shard ${type}/${s} off from ${from} to ${to ?? 'nobody yet'}`)
    return true
  }

  private _complete(type: string, s: number, h: Handoff): boolean {
    this._handoffs.delete(handoffKey(type, s))
    this.handoffsCompleted++
    const owners = this._owners.get(type)!
    const r = h.to === null ? undefined : this._reports.get(h.to)
    const fit = r !== undefined && !r.report.leaving && r.report.types.some((ty) => ty.name === type && ty.host)
    owners[s] = fit ? h.to : null
    return true
  }

  private _hostedElsewhere(type: string, s: number, alive: Set<string>): boolean {
    for (const [key, r] of this._reports) if (alive.has(key) && hosts(r.report, type, s)) return true
    return false
  }

  private _publish(): void {
    this._version++
    const allocation = this._allocation()
    this._host.applyLocal(allocation)
    for (const r of this._reports.values()) if (!r.address.equals(this._host.self)) this._host.send(r.address, allocation)
  }

  private _allocation(): ShardAllocation {
    const nodes: string[] = []
    const index = new Map<string, number>()
    const types = []
    for (const [name, owners] of this._owners) {
      const list = owners.map((o) => {
        if (o === null) return 0
        let i = index.get(o)
        if (i === undefined) {
          i = nodes.push(o)
          index.set(o, i)
        }
        return i
      })
      types.push({ name, owners: list })
    }
    return { tag: SHARDING_TAG.ALLOCATION, version: this._version, numberOfShards: this._host.numberOfShards, nodes, types }
  }
}

function handoffKey(type: string, shard: number): string {
  return type + '\0' + shard
}

function hosts(report: ShardingReport, type: string, shard: number): boolean {
  for (const t of report.types) if (t.name === type && t.shards.includes(shard)) return true
  return false
}

function leastLoaded(load: Map<string, number>, except: string | null): string | null {
  let best: string | null = null
  for (const [k, n] of load) if (k !== except && (best === null || n < load.get(best)!)) best = k
  return best
}

function mostLoaded(load: Map<string, number>): string | null {
  let best: string | null = null
  for (const [k, n] of load) if (best === null || n > load.get(best)!) best = k
  return best
}
