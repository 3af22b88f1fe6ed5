// The meeting place of in-memory transports, and the faults it injects on their links: loss,
// delay with jitter, reordering, duplication and partitions, all drawn from a seeded generator
// so a test run can be repeated exactly. Each bus is its own world; nothing is process-wide.

import type { NodeAddress } from '../node-address.ts'
import type { WireMessage } from '../wire/index.ts'

export interface LinkFaults {
  // Probability that a message is lost.
  drop?: number
  // Delay added to every message, and a random extra of up to `jitterMs`.
  delayMs?: number
  jitterMs?: number
  // Probability that a message is held back behind the ones sent after it.
  reorder?: number
  // Probability that a message is delivered twice.
  duplicate?: number
}

export interface BusOptions {
  seed?: number
  // Round-trip every message through the wire codec (catches what cannot cross a real wire).
  serialize?: boolean
  faults?: LinkFaults
}

// What the bus needs of a transport registered on it.
export interface BusMember {
  readonly self: NodeAddress
  readonly maxFrameBytes: number
  _receive(from: NodeAddress, msg: WireMessage): void
}

export type Verdict = 'deliver' | 'lost' | 'partitioned'

const REORDER_HOLD_MS = 5

export class Bus {
  readonly serialize: boolean
  private _members: Map<string, BusMember>
  private _defaultFaults: LinkFaults
  private _links: Map<string, LinkFaults>
  private _blocked: Set<string>
  private _random: () => number
  private _timers: Set<TimerHandle>
  // Per link, messages waiting in the order they were sent, drained by one timer.
  private _queues: Map<string, LinkQueue>

  constructor(opts: BusOptions = {}) {
    this.serialize = opts.serialize === true
    this._members = new Map()
    this._defaultFaults = { ...opts.faults }
    this._links = new Map()
    this._blocked = new Set()
    this._random = mulberry32(opts.seed ?? 1)
    this._timers = new Set()
    this._queues = new Map()
  }

  register(member: BusMember): void {
    this._members.set(member.self.key, member)
  }

  unregister(member: BusMember): void {
    if (this._members.get(member.self.key) === member) this._members.delete(member.self.key)
  }

  member(address: NodeAddress): BusMember | null {
    return this._members.get(address.key) ?? null
  }

  setDefaultFaults(faults: LinkFaults): void {
    this._defaultFaults = { ...faults }
  }

  // Faults on the link from `from` to `to` (one direction).
  setLink(from: NodeAddress, to: NodeAddress, faults: LinkFaults): void {
    this._links.set(linkKey(from, to), { ...faults })
  }

  // Cuts every link from a side to b side, and back unless `oneWay`.
  partition(a: NodeAddress[], b: NodeAddress[], opts: { oneWay?: boolean } = {}): void {
    for (const x of a) {
      for (const y of b) {
        this._blocked.add(linkKey(x, y))
        if (!opts.oneWay) this._blocked.add(linkKey(y, x))
      }
    }
  }

  // Restores links cut by `partition`: all of them, or those between a and b (both ways).
  heal(a?: NodeAddress[], b?: NodeAddress[]): void {
    if (a === undefined) {
      this._blocked.clear()
      return
    }
    for (const x of a) {
      for (const y of b ?? [...this._members.values()].map((m) => m.self)) {
        this._blocked.delete(linkKey(x, y))
        this._blocked.delete(linkKey(y, x))
      }
    }
  }

  // Sends `msg` from one member to another through the link's faults; says what became of it.
  transmit(from: NodeAddress, to: BusMember, msg: WireMessage): Verdict {
    const key = linkKey(from, to.self)
    if (this._blocked.has(key)) return 'partitioned'
    const f = this._links.get(key) ?? this._defaultFaults
    if (f.drop && this._random() < f.drop) return 'lost'
    const copies = f.duplicate && this._random() < f.duplicate ? 2 : 1
    const deliver = () => {
      if (this._members.get(to.self.key) === to) to._receive(from, msg)
    }
    for (let i = 0; i < copies; i++) {
      const wait = (f.delayMs ?? 0) + (f.jitterMs ? this._random() * f.jitterMs : 0)
      if (f.reorder && this._random() < f.reorder) {
        // Held back on its own: later messages on the link overtake it.
        this._schedule(wait + REORDER_HOLD_MS, deliver)
      } else {
        this._enqueue(key, Date.now() + wait, deliver)
      }
    }
    return 'deliver'
  }

  // Cancels everything in flight (used when a bus is done with).
  close(): void {
    for (const t of this._timers) clearTimeout(t)
    this._timers.clear()
    this._queues.clear()
  }

  // Messages on one link leave in the order they came, each no earlier than it is due.
  private _enqueue(key: string, due: number, deliver: () => void): void {
    let q = this._queues.get(key)
    if (q === undefined) {
      q = { items: [], armed: false }
      this._queues.set(key, q)
    }
    q.items.push({ due, deliver })
    if (!q.armed) this._arm(key, q)
  }

  private _arm(key: string, q: LinkQueue): void {
    const head = q.items[0]
    if (head === undefined) {
      q.armed = false
      this._queues.delete(key)
      return
    }
    q.armed = true
    this._schedule(head.due - Date.now(), () => {
      const now = Date.now()
      while (q.items.length > 0 && q.items[0]!.due <= now) q.items.shift()!.deliver()
      this._arm(key, q)
    })
  }

  private _schedule(ms: number, fn: () => void): void {
    if (ms <= 0) {
      queueMicrotask(fn)
      return
    }
    const timer = setTimeout(() => {
      this._timers.delete(timer)
      fn()
    }, ms)
    this._timers.add(timer)
  }
}

interface LinkQueue {
  items: { due: number; deliver: () => void }[]
  armed: boolean
}

function linkKey(from: NodeAddress, to: NodeAddress): string {
  return from.key + '>' + to.key
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
