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

/**
 * The default storage: in this process's memory. It survives handoffs between shards hosted in
 * this process (and shared between nodes of one process, as in tests), not a crash.
 */
export class MemoryMessageStorage implements MessageStorage {
  /** Messages forgotten because the storage was full. */
  evicted: number
  private _seq: number
  private _max: number
  /** Kept as given (no copy with the id on the hot path); the id is added when listed. */
  private _messages: Map<number, Omit<StoredMessage, 'id'>>

  /**
   * `maxMessages`: how many messages not done it keeps before it forgets the oldest.
   * @default { maxMessages: 100000 }
   */
  constructor(opts: { maxMessages?: number } = {}) {
    this.evicted = 0
    this._seq = 0
    this._max = opts.maxMessages ?? MEMORY_STORAGE_DEFAULTS.maxMessages
    this._messages = new Map()
  }

  /** Messages held, not yet marked done. */
  get size(): number {
    return this._messages.size
  }

  save(message: Omit<StoredMessage, 'id'>): number {
    const id = ++this._seq
    if (this._messages.size >= this._max) {
      this._messages.delete(this._messages.keys().next().value!)
      this.evicted++
    }
    this._messages.set(id, message)
    return id
  }

  markDone(id: number): void {
    this._messages.delete(id)
  }

  undelivered(type: string, shard: number): StoredMessage[] {
    const out: StoredMessage[] = []
    for (const [id, m] of this._messages) if (m.shard === shard && m.type === type) out.push({ ...m, id })
    return out
  }
}
