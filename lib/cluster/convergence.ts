// Whether every member has seen the leader's view (Akka's convergence): the leader moves members
// along (joining -> up, leaving or down -> removed) only then, so no member is told of a
// decision about a view it has not seen. A member shows what it has seen by the keyed summaries
// it sends; a member that sees its leader's summary match its own says so with one of its own.

import type { NodeAddress } from '../node-address.ts'
import type { Membership } from './membership.ts'

const MAX_REPORTS = 10_000

export class Convergence {
  private _reported: Map<string, Uint8Array>

  constructor() {
    this._reported = new Map()
  }

  // The last summary `from` sent: its view when it sent it.
  report(from: NodeAddress, summary: Uint8Array): void {
    if (!this._reported.has(from.key) && this._reported.size >= MAX_REPORTS) this._reported.clear()
    this._reported.set(from.key, new Uint8Array(summary))
  }

  forget(address: NodeAddress): void {
    this._reported.delete(address.key)
  }

  // Up and leaving members whose last summary does not match this node's view now (or who sent
  // none); joining ones need not have seen it. Null when some member that is neither down nor
  // removed is unreachable: then there is no convergence until it is reachable again or down.
  laggards(membership: Membership): NodeAddress[] | null {
    const unreachable = membership.unreachableSet()
    const out: NodeAddress[] = []
    for (const r of membership.records()) {
      if (r.address.equals(membership.self) || r.status === 'down' || r.status === 'removed') continue
      if (unreachable.has(r.address.key)) return null
      if (r.status === 'joining') continue
      const seen = this._reported.get(r.address.key)
      if (seen === undefined || !membership.sameSummary(seen)) out.push(r.address)
    }
    return out
  }
}
