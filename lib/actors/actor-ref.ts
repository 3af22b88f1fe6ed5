// A handle to an actor, here or on another node. Its path is the actor's full address,
// `<node address>/user/<name>`; tell and ask work the same whichever node the actor lives on.

import { ClusterError } from '../errors.ts'
import type { NodeAddress } from '../node-address.ts'
import { captureCallSite, type CallSite } from './ask-error.ts'

/** What `ref.ask` takes. */
export interface AskOptions {
  /**
   * How long to wait for the reply before failing with ASK_TIMEOUT.
   * @default the system's askTimeoutMs (5000)
   */
  timeoutMs?: number
}

/** What a ref needs from the system that made it. */
export interface RefOwner {
  /** @internal */
  _tell(ref: ActorRef, msg: unknown, sender: ActorRef | null): void
  /**
   * `site` is the caller's stack, for the error should the ask fail.
   * @internal
   */
  _ask(ref: ActorRef, msg: unknown, opts: AskOptions, site?: CallSite | null): Promise<unknown>
  /**
   * False when asks should not capture their caller's stack (see ActorSystemOptions).
   * @internal
   */
  readonly _askCallSites?: boolean
  /**
   * This node's address as written in paths (`actor-cluster://name` before joining a cluster).
   * @internal
   */
  _addressString(): string
}

/**
 * A handle to an actor, here or on another node: `tell` and `ask` work the same either way.
 * `M` is the message type it takes, `R` the type its asks reply with (both unknown by default).
 */
export class ActorRef<M = unknown, R = unknown> {
  /** The node the actor lives on, or null for this node. */
  readonly node: NodeAddress | null
  /** The path on its node: `/user/<name>[/<child>...]` or `/temp/<id>` for an ask's reply. */
  readonly localPath: string
  private _owner: RefOwner
  private _path: string | null
  /**
   * The local actor this ref last reached, kept by the system so a tell skips the path lookup;
   * checked on every use, so a stopped actor's ref finds a new one at its path.
   * @internal
   */
  _cell: object | null

  /** Made by the actor system (`spawn`, `ref`, `ctx.self`); not for users to call. */
  constructor(owner: RefOwner, node: NodeAddress | null, localPath: string) {
    this.node = node
    this.localPath = localPath
    this._owner = owner
    this._path = node === null ? null : node.toString() + localPath
    this._cell = null
  }

  /** The actor's full address: `<node address>/user/<name>`. */
  get path(): string {
    return this._path ?? this._owner._addressString() + this.localPath
  }

  /** The last part of the path. */
  get name(): string {
    return this.localPath.slice(this.localPath.lastIndexOf('/') + 1)
  }

  /** True for an actor on this node. */
  get isLocal(): boolean {
    return this.node === null
  }

  /**
   * Sends `msg` without waiting; `sender` is what the recipient's `ctx.sender` is. A message that
   * cannot be delivered becomes a dead letter, counted and emitted, never lost silently.
   */
  tell(msg: M, sender: ActorRef | null = null): void {
    this._owner._tell(this, msg, sender)
  }

  /**
   * Sends `msg` and waits for the actor's `ctx.reply(...)`: resolves with the reply, typed `R`.
   * Rejects with a ClusterError (`ASK_TIMEOUT`, `NO_RECIPIENT`, `UNREACHABLE`, `ACTOR_FAILED`,
   * `SYSTEM_STOPPED`, ...) whose message names the actor, the timeout and the line that asked.
   */
  ask(msg: M, opts?: AskOptions): Promise<R>
  /** As above, with the reply's type given here: `ref.ask<number>('count')`. */
  ask<T>(msg: M, opts?: AskOptions): Promise<T>
  ask(msg: M, opts: AskOptions = {}): Promise<unknown> {
    return this._owner._ask(this, msg, opts, this._owner._askCallSites === false ? null : captureCallSite(this.ask))
  }

  /** Same actor: same node (by host, port and system; the scheme is spelling) and same path. */
  equals(other: ActorRef | null | undefined): boolean {
    return other instanceof ActorRef && refKey(other) === refKey(this)
  }

  /** The path. */
  toString(): string {
    return this.path
  }

  /** The path, so refs inside logged objects print readably. */
  toJSON(): string {
    return this.path
  }
}

/**
 * A key for maps of refs that does not change when the system joins a cluster: the local path for
 * this node's actors, node key and path for others'.
 */
export function refKey(ref: ActorRef): string {
  return ref.node === null ? ref.localPath : ref.node.key + ref.localPath
}

const NAME = /^[A-Za-z0-9_\-.~:+=@]{1,128}$/

/** Names users give actors: letters, digits and `_-.~:+=@`, at most 128 characters. */
export function checkActorName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw ClusterError.BAD_PATH(`actor names are 1-128 of A-Z a-z 0-9 _ - . ~ : + = @, not ${JSON.stringify(name)}`)
  }
  return name
}

/** A local path from a peer or a user: `/user/<name>[/<name>...]` or `/temp/<hex id>`. */
export function isLocalPath(path: string): boolean {
  if (path.startsWith('/temp/')) return /^\/temp\/[0-9a-f]{1,32}$/.test(path)
  if (!path.startsWith('/user/') || path.length > 2048) return false
  const parts = path.slice(6).split('/')
  return parts.every((p) => NAME.test(p) || /^\$[0-9a-z]{1,16}$/.test(p))
}
