// An actor's queue of messages: a ring buffer that grows on demand up to its capacity. What does
// not fit is refused (the newest) or pushes out the oldest, as the overflow policy says; the
// caller counts it as a dead letter either way.

import type { ActorRef } from './actor-ref.ts'

export type OverflowPolicy = 'drop-newest' | 'drop-oldest'

/** An actor's mailbox (`SpawnOptions.mailbox`, or `ActorSystemOptions.mailbox` for every actor). */
export interface MailboxOptions {
  /**
   * Messages waiting at most; what does not fit becomes a `mailbox-full` dead letter.
   * @default 10000
   */
  capacity?: number
  /**
   * When full: refuse the new message (`drop-newest`) or push out the oldest (`drop-oldest`).
   * @default 'drop-newest'
   */
  overflow?: OverflowPolicy
}

export const MAILBOX_DEFAULTS = {
  capacity: 10_000,
  overflow: 'drop-newest'
} as const

const INITIAL_SLOTS = 16

export interface Dropped {
  message: unknown
  sender: ActorRef | null
}

export class Mailbox {
  readonly capacity: number
  readonly overflow: OverflowPolicy
  /** The sender of the message `take` returned last. */
  takenSender: ActorRef | null
  private _messages: unknown[]
  private _senders: (ActorRef | null)[]
  private _head: number
  private _length: number

  constructor(opts: MailboxOptions = {}) {
    this.capacity = opts.capacity ?? MAILBOX_DEFAULTS.capacity
    this.overflow = opts.overflow ?? MAILBOX_DEFAULTS.overflow
    this.takenSender = null
    this._messages = new Array(Math.min(INITIAL_SLOTS, this.capacity))
    this._senders = new Array(this._messages.length)
    this._head = 0
    this._length = 0
  }

  get length(): number {
    return this._length
  }

  /**
   * Returns the message that did not fit (this one or the oldest), or null. `always` is for
   * system messages (a terminated signal), which must arrive even over capacity.
   */
  push(message: unknown, sender: ActorRef | null, always = false): Dropped | null {
    let dropped: Dropped | null = null
    if (this._length >= this.capacity && !always) {
      if (this.overflow === 'drop-newest') return { message, sender }
      dropped = { message: this.take(), sender: this.takenSender }
    }
    if (this._length === this._messages.length) this._grow()
    const at = (this._head + this._length) % this._messages.length
    this._messages[at] = message
    this._senders[at] = sender
    this._length++
    return dropped
  }

  /**
   * The oldest message (its sender in takenSender); call only when length > 0. Allocates nothing:
   * this is once per message handled.
   */
  take(): unknown {
    const at = this._head
    const message = this._messages[at]
    this.takenSender = this._senders[at] ?? null
    this._messages[at] = undefined
    this._senders[at] = null
    this._head = (at + 1) % this._messages.length
    this._length--
    return message
  }

  private _grow(): void {
    const size = this._messages.length
    const next = Math.max(INITIAL_SLOTS, size * 2)
    const messages = new Array(next)
    const senders = new Array(next)
    for (let i = 0; i < this._length; i++) {
      messages[i] = this._messages[(this._head + i) % size]
      senders[i] = this._senders[(this._head + i) % size]
    }
    this._messages = messages
    this._senders = senders
    this._head = 0
  }
}
