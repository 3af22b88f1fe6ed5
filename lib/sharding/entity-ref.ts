// Entity refs and their paths. An entity is addressed as the local path
// /sharding/<type>/<id> on whichever node holds the ref: a tell from an entity ref goes straight
// to the owner of the entity's shard as an ordinary actor envelope to that path, and a ref to
// that path on another node (an entity ref sent inside a message) routes through that node.

import b4a from 'b4a'
import { ClusterError } from '../errors.ts'
import type { ActorRef, AskOptions, RefOwner } from '../actors/actor-ref.ts'
import type { CallSite } from '../actors/ask-error.ts'
import { SHARDING_LIMITS } from './messages.ts'

export const ENTITY_PREFIX = '/sharding/'
export const TYPE_NAME = /^[A-Za-z0-9_\-.~:+=@]{1,64}$/

/** What an entity ref calls on the node that made it. */
export interface EntityRouter {
  tellEntity(owner: EntityRefOwner, msg: unknown, sender: ActorRef | null): void
  askEntity(owner: EntityRefOwner, ref: ActorRef, msg: unknown, opts: AskOptions, site: CallSite | null): Promise<unknown>
  addressString(): string
}

/** The owner of one entity ref: its type, id, shard and path, computed once. */
export class EntityRefOwner implements RefOwner {
  readonly type: string
  readonly id: string
  readonly shard: number
  readonly path: string
  private _router: EntityRouter

  constructor(router: EntityRouter, type: string, id: string, shard: number) {
    this._router = router
    this.type = type
    this.id = id
    this.shard = shard
    this.path = entityPath(type, id)
  }

  /** @internal */
  _tell(_ref: ActorRef, msg: unknown, sender: ActorRef | null): void {
    this._router.tellEntity(this, msg, sender)
  }

  /** @internal */
  _ask(ref: ActorRef, msg: unknown, opts: AskOptions, site?: CallSite | null): Promise<unknown> {
    return this._router.askEntity(this, ref, msg, opts, site ?? null)
  }

  /** @internal */
  _addressString(): string {
    return this._router.addressString()
  }
}

/**
 * The local path of an entity. An id with `/` or `%` in it is percent-encoded, so that no id
 * can make a path that another rule reads (such as one with /system/ inside).
 */
export function entityPath(type: string, id: string): string {
  const safe = id.includes('/') || id.includes('%') ? encodeURIComponent(id) : id
  return ENTITY_PREFIX + type + '/' + safe
}

/** The type and id of an entity path, or null when it names none. Treats `path` as hostile. */
export function parseEntityPath(path: string): { type: string; id: string } | null {
  const at = path.indexOf('/', ENTITY_PREFIX.length)
  if (!path.startsWith(ENTITY_PREFIX) || at === -1) return null
  const type = path.slice(ENTITY_PREFIX.length, at)
  let id = path.slice(at + 1)
  if (id.includes('/')) return null
  if (id.includes('%')) {
    try {
      id = decodeURIComponent(id)
    } catch {
      return null
    }
  }
  if (!TYPE_NAME.test(type) || !validEntityId(id)) return null
  return { type, id }
}

export function validEntityId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && b4a.byteLength(id, 'utf8') <= SHARDING_LIMITS.maxEntityId
}

export function checkTypeName(name: unknown): void {
  if (typeof name !== 'string' || !TYPE_NAME.test(name)) {
    throw ClusterError.BAD_OPTIONS(`an entity type name is 1-64 of A-Z a-z 0-9 _ - . ~ : + = @, not ${JSON.stringify(name)}`)
  }
}
