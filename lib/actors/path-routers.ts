// Local paths served by a router instead of an actor of their own (sharded entities): each
// router takes the paths under one prefix, from this node and from peers alike.

import type { NodeAddress } from '../node-address.ts'
import type { ActorRef } from './actor-ref.ts'

/** A router for the local paths under one prefix; each call is false when `path` names nobody. */
export interface PathRouter {
  /** A message from this node. */
  value(path: string, msg: unknown, sender: ActorRef | null): boolean
  /** A message from peer `from`, still encoded: the router decodes it when it needs to. */
  bytes(path: string, manifest: string, body: Uint8Array, sender: ActorRef | null, from: NodeAddress): boolean
}

export class PathRouters {
  private _mounts: [prefix: string, router: PathRouter][]

  constructor() {
    this._mounts = []
  }

  /** Routes the paths under `prefix` to `router`. Returns the undo. */
  mount(prefix: string, router: PathRouter): () => void {
    const entry: [string, PathRouter] = [prefix, router]
    this._mounts.push(entry)
    return () => {
      const at = this._mounts.indexOf(entry)
      if (at !== -1) this._mounts.splice(at, 1)
    }
  }

  /** The first router that takes paths like `path`, or null. */
  routerOf(path: string): PathRouter | null {
    // Indexed: this runs for every envelope to a routed path, and a destructuring loop costs more.
    const mounts = this._mounts
    for (let i = 0; i < mounts.length; i++) {
      const m = mounts[i]!
      if (path.startsWith(m[0])) return m[1]
    }
    return null
  }

  /** Hands a message from this node to the routers of its path in turn; false when none took it. */
  value(path: string, msg: unknown, sender: ActorRef | null): boolean {
    for (const [prefix, router] of this._mounts) if (path.startsWith(prefix) && router.value(path, msg, sender)) return true
    return false
  }
}
