// Seeds by the address they are dialled at (`localhost:P`, a hostname, an IP): that address is
// only how to reach a seed, and the address it announces in its hello is its name. Once a seed
// has answered, sends to the dialled address go to that name, and what waited under the dialled
// address moves to it.

import type { Logger } from '../logger.ts'
import type { NodeAddress } from '../node-address.ts'
import type { Peer } from './peer.ts'
import type { PeerTable } from './peer-table.ts'

export class SeedNames {
  private _seeds: Set<string> | 'any'
  private _aliases: Map<string, NodeAddress>

  /** `'any'`: every dialled address is only how to reach a node, as a seed's is. */
  constructor(seeds: NodeAddress[] | 'any') {
    this._seeds = seeds === 'any' ? 'any' : new Set(seeds.map((s) => s.key))
    this._aliases = new Map()
  }

  /** Whether `address` is a seed's dialled address (its hello may announce another name). */
  isSeed(address: NodeAddress): boolean {
    return this._seeds === 'any' || this._seeds.has(address.key)
  }

  /** The name a dialled seed address answered with, or the address itself. */
  resolve(address: NodeAddress): NodeAddress {
    return this._aliases.get(address.key) ?? address
  }

  /**
   * A seed dialled at `dialled` answered as `peer`: that is its name from now on, and the peer
   * kept under the dialled address hands its queue over and is retired.
   */
  named(dialled: NodeAddress, peer: Peer, peers: PeerTable, log: Logger): void {
    log.info(`seed ${dialled.host}:${dialled.port} is ${peer.address.toString()}`)
    this._aliases.set(dialled.key, peer.address)
    const waiting = peers.get(dialled.key)
    if (waiting === undefined || waiting === peer) return
    peers.remove(waiting)
    waiting.cancelRedial()
    for (const f of waiting.queue.clear()) peer.send(f.msg, f.size)
    peers.retire(waiting)
  }
}
