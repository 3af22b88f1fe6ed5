// Where the messages to entities are kept while they are handled: saved before an entity gets
// one, marked done after it has handled it. What is not done when a shard moves is delivered
// again by the shard's next owner. Calls may return promises, so that a durable store fits the
// same interface.

/** A message on its way to an entity, as the storage keeps it. */
export interface StoredMessage {
  /** Given by the storage on save. */
  id: number
  type: string
  entityId: string
  shard: number
  /** The full actor address of the sender, or null. */
  sender: string | null
  manifest: string
  body: Uint8Array
}

/** Where messages to entities wait until they are handled; every call may return a promise. */
export interface MessageStorage {
  /** Keeps a message before it is delivered; returns its id. */
  save(message: Omit<StoredMessage, 'id'>): number | Promise<number>
  /** The entity has handled the message (or failed on it): it is not delivered again. */
  markDone(id: number): void | Promise<void>
  /** Messages of a shard saved and not done, oldest first. */
  undelivered(type: string, shard: number): StoredMessage[] | Promise<StoredMessage[]>
}

export const MEMORY_STORAGE_DEFAULTS = {
  /** Beyond this many messages not done, the oldest is forgotten (and counted). */
  maxMessages: 100_000
} as const

// The ring's first size; it doubles up to the first power of two at or past maxMessages.
const FIRST_SLOTS = 256

/**
 * The default storage: in this process's memory. It survives handoffs between shards hosted in
 * this process (and shared between nodes of one process, as in tests), not a crash.
 */
export class MemoryMessageStorage implements MessageStorage {
  /** Messages forgotten because the storage was full. */
  evicted: number
  private _max: number
  private _size: number
  // Messages are numbered in the order they are saved and mostly done in that order, so they
  // live in a ring of slots (one array per field, id & mask the slot): saving and marking done
  // allocate nothing. `_head` is the oldest id the ring still has a slot for, `_next` the id the
  // next save gets; a slot whose body is null is done.
  private _head: number
  private _next: number
  private _mask: number
  private _maxSlots: number
  private _types: (string | null)[]
  private _entities: (string | null)[]
  private _shards: number[]
  private _senders: (string | null)[]
  private _manifests: (string | null)[]
  private _bodies: (Uint8Array | null)[]
  /** Messages not done that the ring's head had to pass, oldest first. */
  private _overflow: Map<number, StoredMessage>

  /**
   * `maxMessages`: how many messages not done it keeps before it forgets the oldest.
   * @default { maxMessages: 100000 }
   */
  constructor(opts: { maxMessages?: number } = {}) {
    const max = opts.maxMessages ?? MEMORY_STORAGE_DEFAULTS.maxMessages
    this.evicted = 0
    this._max = Math.max(1, max)
    this._size = 0
    this._head = 1
    this._next = 1
    this._maxSlots = powerOfTwoAtLeast(Math.max(FIRST_SLOTS, this._max))
    const slots = Math.min(FIRST_SLOTS, this._maxSlots)
    this._mask = slots - 1
    this._types = new Array<string | null>(slots).fill(null)
    this._entities = new Array<string | null>(slots).fill(null)
    this._shards = new Array<number>(slots).fill(0)
    this._senders = new Array<string | null>(slots).fill(null)
    this._manifests = new Array<string | null>(slots).fill(null)
    this._bodies = new Array<Uint8Array | null>(slots).fill(null)
    this._overflow = new Map()
  }

  /** Messages held, not yet marked done. */
  get size(): number {
    return this._size
  }

  save(message: Omit<StoredMessage, 'id'>): number {
    return this.keep(message.type, message.entityId, message.shard, message.sender, message.manifest, message.body)
  }

  /**
   * `save` with the fields one by one, for a caller that has them at hand.
   * @internal
   */
  keep(type: string, entityId: string, shard: number, sender: string | null, manifest: string, body: Uint8Array): number {
    if (this._size >= this._max) this._evictOldest()
    if (this._next - this._head > this._mask) this._makeRoom()
    const id = this._next++
    const at = id & this._mask
    this._types[at] = type
    this._entities[at] = entityId
    this._shards[at] = shard
    this._senders[at] = sender
    this._manifests[at] = manifest
    this._bodies[at] = body
    this._size++
    return id
  }

  markDone(id: number): void {
    if (id >= this._head && id < this._next) {
      const at = id & this._mask
      if (this._bodies[at] === null) return
      this._clear(at)
      this._size--
      // Past what is done at the head, so that the ring's span stays that of what is not.
      while (this._head < this._next && this._bodies[this._head & this._mask] === null) this._head++
      return
    }
    if (this._overflow.delete(id)) this._size--
  }

  undelivered(type: string, shard: number): StoredMessage[] {
    const out: StoredMessage[] = []
    for (const m of this._overflow.values()) if (m.shard === shard && m.type === type) out.push({ ...m })
    for (let id = this._head; id < this._next; id++) {
      const at = id & this._mask
      const body = this._bodies[at] ?? null
      if (body === null || this._shards[at] !== shard || this._types[at] !== type) continue
      out.push({ id, type, entityId: this._entities[at]!, shard, sender: this._senders[at]!, manifest: this._manifests[at]!, body })
    }
    return out
  }

  private _clear(at: number): void {
    this._types[at] = null
    this._entities[at] = null
    this._senders[at] = null
    this._manifests[at] = null
    this._bodies[at] = null
  }

  /** The ring is full from head to next: it grows, or its head moves to the overflow. */
  private _makeRoom(): void {
    const slots = this._mask + 1
    if (slots < this._maxSlots) return this._grow(slots * 2)
    const id = this._head
    const at = id & this._mask
    const body = this._bodies[at] ?? null
    if (body !== null) {
      this._overflow.set(id, { id, type: this._types[at]!, entityId: this._entities[at]!, shard: this._shards[at]!, sender: this._senders[at]!, manifest: this._manifests[at]!, body })
      this._clear(at)
    }
    this._head++
    while (this._head < this._next && this._bodies[this._head & this._mask] === null) this._head++
  }

  private _grow(slots: number): void {
    const mask = slots - 1
    const types = new Array<string | null>(slots).fill(null)
    const entities = new Array<string | null>(slots).fill(null)
    const shards = new Array<number>(slots).fill(0)
    const senders = new Array<string | null>(slots).fill(null)
    const manifests = new Array<string | null>(slots).fill(null)
    const bodies = new Array<Uint8Array | null>(slots).fill(null)
    for (let id = this._head; id < this._next; id++) {
      const from = id & this._mask
      const to = id & mask
      types[to] = this._types[from]!
      entities[to] = this._entities[from]!
      shards[to] = this._shards[from]!
      senders[to] = this._senders[from]!
      manifests[to] = this._manifests[from]!
      bodies[to] = this._bodies[from]!
    }
    this._mask = mask
    this._types = types
    this._entities = entities
    this._shards = shards
    this._senders = senders
    this._manifests = manifests
    this._bodies = bodies
  }

  /** Forgets the oldest message not done. */
  private _evictOldest(): void {
    this.evicted++
    this._size--
    const first = this._overflow.keys().next()
    if (first.done !== true) {
      this._overflow.delete(first.value)
      return
    }
    // The head is never done while anything is held: the ring passes done heads at once.
    this._clear(this._head & this._mask)
    this._head++
    while (this._head < this._next && this._bodies[this._head & this._mask] === null) this._head++
  }
}

function powerOfTwoAtLeast(n: number): number {
  let p = 1
  while (p < n) p *= 2
  return p
}
