// The meeting place of in-memory transports, and the faults it injects on their links: loss,
// delay with jitter, reordering, duplication and partitions, all drawn from a seeded generator
// so a test run can be repeated exactly. Each bus is its own world; nothing is process-wide.

import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import { NodeAddress } from '../node-address.ts'
import { decodeMessage } from '../wire/index.ts'
import type { WireMessage } from '../wire/index.ts'
import { DropReason } from './transport.ts'

export interface LinkFaults {
  /** Probability that a message is lost. */
  drop?: number
  /**
   * Delay added to every message, and a random extra of up to `jitterMs`. Jitter never reorders.
   */
  delayMs?: number
  /** A random extra delay of up to this many milliseconds per message. */
  jitterMs?: number
  /** Probability that a message is overtaken by the next one sent on its link. */
  reorder?: number
  /** Probability that a message is delivered twice. */
  duplicate?: number
}

/** What `new Bus(options)` (or `InMemoryTransport.newBus(options)`) takes. */
export interface BusOptions {
  /**
   * Seed of the generator every fault is drawn from, so a failing run can be replayed.
   * @default 1
   */
  seed?: number
  /**
   * Round-trip every message through the wire codec (catches what cannot cross a real wire).
   * @default false
   */
  serialize?: boolean
  /**
   * Faults on every link that has none of its own.
   * @default none
   */
  faults?: LinkFaults
}

/** What `bus.partition(a, b, options)` takes. */
export interface PartitionOptions {
  /**
   * Cut only the links from the first side to the second.
   * @default false
   */
  oneWay?: boolean
}

export type AddressLike = NodeAddress | string

/** What the bus needs of a transport registered on it. */
export interface BusMember {
  readonly self: NodeAddress
  readonly maxFrameBytes: number
  /**
   * A message arrives; `size` is its encoded size. False when the member no longer takes any
   * (it is shutting down): the sender counts it as undelivered.
   * @internal
   */
  _receive(from: NodeAddress, msg: WireMessage, size: number): boolean
  /**
   * A message this member sent was handed to its receiver.
   * @internal
   */
  _delivered(to: NodeAddress, msg: WireMessage): void
  /**
   * A message this member sent will not arrive: counted and reported by the sender.
   * @internal
   */
  _undelivered(to: NodeAddress, msg: WireMessage, size: number, reason: DropReason): void
}

/** What became of a message given to the bus. */
export type Verdict = 'sent' | 'lost' | 'partitioned'

// How long a reordered message waits for a later one to overtake it before it goes anyway.
const REORDER_HOLD_MS = 10
// Ports handed out for addresses with port 0, as an operating system hands out ephemeral ports.
const FIRST_EPHEMERAL_PORT = 49152
const LAST_PORT = 65535

/**
 * Where in-memory transports meet, within one process: `InMemoryTransport.newBus(options)` makes
 * one, and every transport given it can reach the others on it. Faults (loss, delay, jitter,
 * reordering, duplication) per link or for all, and partitions, drawn from a seeded generator so
 * a run can be repeated.
 */
export class Bus {
  /**
   * Every message is round-tripped through the wire codec.
   * @default false
   */
  readonly serialize: boolean
  private _members: Map<string, BusMember>
  private _defaultFaults: LinkFaults
  private _faults: Map<string, LinkFaults>
  private _blocked: Map<string, { from: string; to: string }>
  private _random: () => number
  /** Messages on their way, per directed link. */
  private _flights: Map<string, Flight>
  private _nextPort: number

  /** Throws `BAD_OPTIONS` on a fault probability outside 0..1 or a negative delay. */
  constructor(opts: BusOptions = {}) {
    this.serialize = opts.serialize === true
    this._members = new Map()
    this._defaultFaults = checkFaults(opts.faults ?? {})
    this._faults = new Map()
    this._blocked = new Map()
    this._random = mulberry32(opts.seed ?? 1)
    this._flights = new Map()
    this._nextPort = FIRST_EPHEMERAL_PORT
  }

  /**
   * Puts a transport on the bus at its address (transports do this at `start`). Throws
   * `LISTEN_FAILED` when another member holds the address.
   */
  register(member: BusMember): void {
    if (this._members.has(member.self.key)) {
      throw ClusterError.LISTEN_FAILED(`${member.self.toString()} is already on this bus`)
    }
    this._members.set(member.self.key, member)
  }

  /**
   * Takes a member off the bus. What it still had on the way, either direction, is dropped and
   * counted at the sender, so no timer outlives it.
   */
  unregister(member: BusMember): void {
    if (this._members.get(member.self.key) !== member) return
    this._members.delete(member.self.key)
    for (const flight of [...this._flights.values()]) {
      if (flight.sender === member) this._cancel(flight, DropReason.SHUTDOWN)
      else if (flight.receiver === member) this._cancel(flight, DropReason.DISCONNECTED)
    }
  }

  /** The member at `address`, or null. */
  member(address: AddressLike): BusMember | null {
    return this._members.get(toAddress(address).key) ?? null
  }

  /** The addresses of every member on the bus now. */
  members(): NodeAddress[] {
    return [...this._members.values()].map((m) => m.self)
  }

  /** `address` with a port no member holds, for an address that asked for port 0. */
  withFreePort(address: NodeAddress): NodeAddress {
    const span = LAST_PORT - FIRST_EPHEMERAL_PORT + 1
    for (let i = 0; i < span; i++) {
      const port = this._nextPort
      this._nextPort = port === LAST_PORT ? FIRST_EPHEMERAL_PORT : port + 1
      const candidate = address.withPort(port)
      if (!this._members.has(candidate.key)) return candidate
    }
    throw ClusterError.LISTEN_FAILED(`no free port left on ${address.host}`)
  }

  /** Faults on every link that has none of its own (`setLink`), from now on. */
  setDefaultFaults(faults: LinkFaults): void {
    this._defaultFaults = checkFaults(faults)
  }

  /**
   * Faults on the link from `from` to `to` (one direction), in place of the defaults. `null`
   * gives the link back to the defaults.
   */
  setLink(from: AddressLike, to: AddressLike, faults: LinkFaults | null): void {
    const key = linkKey(toAddress(from).key, toAddress(to).key)
    if (faults === null) this._faults.delete(key)
    else this._faults.set(key, checkFaults(faults))
  }

  /**
   * Cuts every link from side a to side b, and back unless `oneWay`. Messages already on their
   * way still arrive, as they would on a real network.
   */
  partition(a: AddressLike[], b: AddressLike[], opts: PartitionOptions = {}): void {
    for (const x of a.map(toAddress)) {
      for (const y of b.map(toAddress)) {
        this._block(x.key, y.key)
        if (opts.oneWay !== true) this._block(y.key, x.key)
      }
    }
  }

  /**
   * Restores links cut by `partition`: all of them; those to and from a; or those between a and
   * b, both ways.
   */
  heal(a?: AddressLike[], b?: AddressLike[]): void {
    if (a === undefined) {
      this._blocked.clear()
      return
    }
    const one = new Set(a.map((x) => toAddress(x).key))
    const other = b === undefined ? null : new Set(b.map((x) => toAddress(x).key))
    for (const [key, link] of this._blocked) {
      const healed =
        other === null
          ? one.has(link.from) || one.has(link.to)
          : (one.has(link.from) && other.has(link.to)) || (other.has(link.from) && one.has(link.to))
      if (healed) this._blocked.delete(key)
    }
  }

  /** Whether `partition` has cut the link from `from` to `to` (one direction). */
  isPartitioned(from: AddressLike, to: AddressLike): boolean {
    return this._blocked.has(linkKey(toAddress(from).key, toAddress(to).key))
  }

  /** Bytes (encoded size) and messages on their way from one member to another, or to anyone. */
  inFlight(from: AddressLike, to?: AddressLike): { bytes: number; frames: number } {
    const sum = { bytes: 0, frames: 0 }
    const fromKey = toAddress(from).key
    const only = to === undefined ? null : linkKey(fromKey, toAddress(to).key)
    for (const flight of this._flights.values()) {
      if (only === null ? flight.sender.self.key !== fromKey : flight.key !== only) continue
      sum.bytes += flight.bytes
      sum.frames += flight.frames
    }
    return sum
  }

  /**
   * Puts `msg` on the link from `sender` to `receiver`, through the link's faults. `encoded` is
   * the message's bytes when it is serialized, so that a duplicate is a copy of its own.
   */
  transmit(
    sender: BusMember,
    receiver: BusMember,
    msg: WireMessage,
    size: number,
    encoded: Uint8Array | null
  ): Verdict {
    const key = linkKey(sender.self.key, receiver.self.key)
    if (this._blocked.has(key)) return 'partitioned'
    const f = this._faults.get(key) ?? this._defaultFaults
    if (this._chance(f.drop)) return 'lost'
    const copies = this._chance(f.duplicate) ? 2 : 1
    let flight = this._flights.get(key)
    if (flight === undefined) {
      flight = newFlight(key, sender, receiver)
      this._flights.set(key, flight)
    }
    for (let i = 0; i < copies; i++) {
      // Decoded bytes are views of the buffer they came from: a duplicate gets bytes of its own.
      const copy = i > 0 && encoded !== null ? decodeMessage(copyBytes(encoded)) : msg
      const wait = (f.delayMs ?? 0) + (f.jitterMs ? this._random() * f.jitterMs : 0)
      this._put(flight, { due: now() + wait, msg: copy, size }, this._chance(f.reorder))
    }
    return 'sent'
  }

  /**
   * Delivers at once what a member has on its way and is already due, as a closing socket
   * flushes what it has buffered. Later messages stay on their links.
   */
  flush(sender: BusMember): void {
    for (const flight of [...this._flights.values()]) {
      if (flight.sender === sender) this._pump(flight, false)
    }
  }

  /**
   * Drops everything on its way (counted at the senders), clears every timer and forgets the
   * members: what they send from now on finds nobody.
   */
  close(): void {
    for (const flight of [...this._flights.values()]) this._cancel(flight, DropReason.SHUTDOWN)
    this._members.clear()
  }

  /**
   * Draws from the generator only for a fault that is set: links without faults leave the
   * sequence alone.
   */
  private _chance(p: number | undefined): boolean {
    return p !== undefined && p > 0 && this._random() < p
  }

  private _block(from: string, to: string): void {
    this._blocked.set(linkKey(from, to), { from, to })
  }

  /**
   * A reordered message is set aside and joins the queue behind the next message on its link;
   * everything else joins the queue, which leaves in order, each message no earlier than due.
   */
  private _put(flight: Flight, parcel: Parcel, reorder: boolean): void {
    flight.bytes += parcel.size
    flight.frames++
    if (flight.held !== null) {
      const held = flight.held
      flight.held = null
      clearTimeout(flight.holdTimer)
      flight.holdTimer = null
      flight.queue.push(parcel, held)
    } else if (reorder) {
      flight.held = parcel
      flight.holdTimer = setTimeout(() => {
        flight.holdTimer = null
        if (flight.held === null) return
        flight.queue.push(flight.held)
        flight.held = null
        this._schedule(flight)
      }, REORDER_HOLD_MS)
      return
    } else {
      flight.queue.push(parcel)
    }
    this._schedule(flight)
  }

  private _schedule(flight: Flight): void {
    if (flight.closed || flight.pumpQueued || flight.timer !== null) return
    const head = flight.queue[0]
    if (head === undefined) return
    const wait = head.due - now()
    if (wait <= 0) {
      // Never inside send: the earliest a message arrives is the next microtask.
      flight.pumpQueued = true
      queueMicrotask(() => {
        flight.pumpQueued = false
        this._pump(flight, true)
      })
    } else {
      flight.timer = setTimeout(() => {
        flight.timer = null
        this._pump(flight, true)
      }, wait)
    }
  }

  private _pump(flight: Flight, rearm: boolean): void {
    const t = now()
    while (!flight.closed) {
      const head = flight.queue[0]
      if (head === undefined || head.due > t) break
      flight.queue.shift()
      flight.bytes -= head.size
      flight.frames--
      if (flight.receiver._receive(flight.sender.self, head.msg, head.size)) flight.sender._delivered(flight.receiver.self, head.msg)
      else flight.sender._undelivered(flight.receiver.self, head.msg, head.size, DropReason.SHUTDOWN)
    }
    if (flight.closed) return
    if (flight.queue.length === 0 && flight.held === null) {
      this._retire(flight)
      return
    }
    if (rearm) this._schedule(flight)
  }

  private _cancel(flight: Flight, senderReason: DropReason): void {
    this._retire(flight)
    const lost = flight.held === null ? flight.queue : [...flight.queue, flight.held]
    flight.queue = []
    flight.held = null
    flight.bytes = 0
    flight.frames = 0
    const to = flight.receiver.self
    for (const p of lost) flight.sender._undelivered(to, p.msg, p.size, senderReason)
  }

  private _retire(flight: Flight): void {
    flight.closed = true
    clearTimeout(flight.timer)
    clearTimeout(flight.holdTimer)
    flight.timer = null
    flight.holdTimer = null
    if (this._flights.get(flight.key) === flight) this._flights.delete(flight.key)
  }
}

interface Parcel {
  due: number
  msg: WireMessage
  size: number
}

interface Flight {
  key: string
  sender: BusMember
  receiver: BusMember
  /** In the order they leave. */
  queue: Parcel[]
  /** A reordered message waiting for the next one to overtake it. */
  held: Parcel | null
  holdTimer: TimerHandle | null
  timer: TimerHandle | null
  pumpQueued: boolean
  closed: boolean
  bytes: number
  frames: number
}

function newFlight(key: string, sender: BusMember, receiver: BusMember): Flight {
  return {
    key,
    sender,
    receiver,
    queue: [],
    held: null,
    holdTimer: null,
    timer: null,
    pumpQueued: false,
    closed: false,
    bytes: 0,
    frames: 0
  }
}

function linkKey(from: string, to: string): string {
  return from + '>' + to
}

function copyBytes(b: Uint8Array): Uint8Array {
  const copy = new Uint8Array(b.byteLength)
  copy.set(b)
  return copy
}

function toAddress(a: AddressLike): NodeAddress {
  return typeof a === 'string' ? NodeAddress.parse(a) : a
}

function checkFaults(faults: LinkFaults): LinkFaults {
  for (const name of ['drop', 'reorder', 'duplicate'] as const) {
    const p = faults[name]
    if (p !== undefined && !(typeof p === 'number' && p >= 0 && p <= 1)) {
      throw ClusterError.BAD_OPTIONS(`${name} must be a probability from 0 to 1`)
    }
  }
  for (const name of ['delayMs', 'jitterMs'] as const) {
    const ms = faults[name]
    if (ms !== undefined && !(typeof ms === 'number' && Number.isFinite(ms) && ms >= 0)) {
      throw ClusterError.BAD_OPTIONS(`${name} must be a number of milliseconds, 0 or more`)
    }
  }
  return { ...faults }
}

/**
 * A small seeded generator (mulberry32): uniform in [0, 1), the same sequence for the same seed.
 */
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
