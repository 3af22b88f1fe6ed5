// This node's copy of the leader's allocation: which node owns each shard of each type, which
// owners are unreachable now, and what a new allocation changes for this node (shards it gains,
// shards it must let go, shards that moved).

import { NodeAddress } from '../node-address.ts'
import type { ShardAllocation } from './messages.ts'
import type { ShardMovedEvent } from './options.ts'

export interface AllocationChange {
  /** Per type, shards this node owned (or hosts entities of) and owns no more. */
  lost: Map<string, number[]>
  /** Shards this node owns now and did not before. */
  gained: [type: string, shard: number][]
  moved: ShardMovedEvent[]
}

export class ShardTable {
  readonly numberOfShards: number
  readonly self: NodeAddress
  version: number
  private _owners: Map<string, (NodeAddress | null)[]>
  /** The last owner each shard had (kept while it has none, for shard-moved's `from`). */
  private _lastOwners: Map<string, (NodeAddress | null)[]>
  /** Keys of nodes that are unreachable, down or removed. */
  private _away: Set<string>

  constructor(self: NodeAddress, numberOfShards: number) {
    this.self = self
    this.numberOfShards = numberOfShards
    this.version = 0
    this._owners = new Map()
    this._lastOwners = new Map()
    this._away = new Set()
  }

  owner(type: string, shard: number): NodeAddress | null {
    return this._owners.get(type)?.[shard] ?? null
  }

  /** The owner if it is reachable, else null. */
  reachableOwner(type: string, shard: number): NodeAddress | null {
    const o = this._owners.get(type)?.[shard] ?? null
    return o === null || this._away.has(o.key) ? null : o
  }

  isAway(node: NodeAddress): boolean {
    return this._away.has(node.key)
  }

  setAway(node: NodeAddress): void {
    this._away.add(node.key)
  }

  /** True when the node was away. */
  setBack(node: NodeAddress): boolean {
    return this._away.delete(node.key)
  }

  /** Whether this node owns any shard. */
  ownsAny(): boolean {
    for (const owners of this._owners.values()) if (owners.includes(this.self)) return true
    return false
  }

  shardsPerNode(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {}
    for (const [type, owners] of this._owners) {
      const counts: Record<string, number> = {}
      for (const o of owners) if (o !== null) counts[o.toString()] = (counts[o.toString()] ?? 0) + 1
      out[type] = counts
    }
    return out
  }

  /** The owners by address, for a coordinator that starts from this node's view. */
  asStrings(): Map<string, (string | null)[]> {
    const out = new Map<string, (string | null)[]>()
    for (const [type, list] of this._owners) out.set(type, list.map((o) => (o === null ? null : o.toString())))
    return out
  }

  /**
   * Takes a newer allocation (false for an older one). `types` are the types this node hosts;
   * `hosts(type, shard)` whether it has entities of a shard.
   */
  apply(a: ShardAllocation, types: Iterable<string>, hosts: (type: string, shard: number) => boolean): AllocationChange | null {
    if (a.version <= this.version) return null
    const n = this.numberOfShards
    const self = this.self
    const nodes = a.nodes.map((s) => (s === self.toString() ? self : NodeAddress.parse(s)))
    const next = new Map<string, (NodeAddress | null)[]>()
    for (const t of a.types) next.set(t.name, t.owners.map((i) => (i === 0 ? null : nodes[i - 1]!)))
    const change: AllocationChange = { lost: new Map(), gained: [], moved: [] }
    for (const type of new Set([...this._owners.keys(), ...next.keys(), ...types])) {
      const before = this._owners.get(type)
      const after = next.get(type) ?? new Array<NodeAddress | null>(n).fill(null)
      next.set(type, after)
      let last = this._lastOwners.get(type)
      if (last === undefined) this._lastOwners.set(type, (last = new Array<NodeAddress | null>(n).fill(null)))
      for (let s = 0; s < n; s++) {
        const mineBefore = (before?.[s] ?? null) === self
        const now = after[s]!
        const mineNow = now === self
        if ((mineBefore || hosts(type, s)) && !mineNow) {
          let list = change.lost.get(type)
          if (list === undefined) change.lost.set(type, (list = []))
          list.push(s)
        }
        if (mineNow && !mineBefore) change.gained.push([type, s])
        const was = last[s]!
        if (now !== null && !(was !== null && was.equals(now))) {
          change.moved.push({ type, shard: s, from: was, to: now, version: a.version })
          last[s] = now
        }
      }
    }
    this.version = a.version
    this._owners = next
    return change
  }
}
