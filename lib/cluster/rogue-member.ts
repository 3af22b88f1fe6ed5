// A node that sends whatever membership gossip it likes, for testing what a cluster does with a
// malicious member or a stranger who can reach its ports: it asks members for their records and
// sends forged ones, records signed with its own key, records with huge versions, and floods.
// It runs no membership of its own and never judges anyone.

import { ClusterError } from '../errors.ts'
import type { NodeAddress } from '../node-address.ts'
import type { Transport } from '../transport/transport.ts'
import type { Endorsement, GossipDelta, GossipMessage, MemberStatus, Observation, StatusDecision, WireMessage } from '../wire/index.ts'
import { decisionBytes, newKeyPair, signRecord, vouchBytes, type SigningKeyPair } from './record-signing.ts'

/** What `new RogueMember(options)` takes. */
export interface RogueMemberOptions {
  /** The transport the rogue speaks over, as a member's would. */
  transport: Transport
  /** Its identity. Default: a new key pair. */
  keyPair?: SigningKeyPair
}

/** How the rogue forges a record. */
export interface ForgeOptions {
  /** Sign the record with these keys (default the rogue's own); `null` leaves the signature as it is. */
  signWith?: SigningKeyPair | null
}

export class RogueMember {
  readonly transport: Transport
  readonly keys: SigningKeyPair
  readonly incarnation: number
  version: number
  /** Gossip received, oldest first (at most 1,000 kept). */
  received: { from: NodeAddress; msg: GossipMessage }[]
  /** Every message of any kind that reached it. */
  heard: number
  private _waiters: Set<() => void>

  static async start(opts: RogueMemberOptions): Promise<RogueMember> {
    const rogue = new RogueMember(opts)
    await opts.transport.start()
    return rogue
  }

  constructor(opts: RogueMemberOptions) {
    this.transport = opts.transport
    this.keys = opts.keyPair ?? newKeyPair()
    this.incarnation = (opts.transport as { incarnation?: number }).incarnation ?? Date.now() * 1024
    this.version = 1
    this.received = []
    this.heard = 0
    this._waiters = new Set()
    this.transport.setHandler((from, msg) => this._onmessage(from, msg))
  }

  get self(): NodeAddress {
    return this.transport.self
  }

  /** Its own record, signed: by default joining, at the next version. */
  ownRecord(change: Partial<Pick<GossipDelta, 'version' | 'incarnation' | 'status' | 'roles' | 'unreachable'>> = {}): GossipDelta {
    const version = change.version ?? ++this.version
    return this.record(this.self.toString(), { incarnation: this.incarnation, status: 'joining', ...change, version }, this.keys)
  }

  /**
   * A record for any address, signed by `keys` (a phantom's own, fresh by default) and vouched for
   * by this rogue.
   */
  record(
    address: string,
    fields: { incarnation?: number; version?: number; status?: MemberStatus; roles?: string[]; unreachable?: Observation[] } = {},
    keys: SigningKeyPair = newKeyPair(),
    vouch = false
  ): GossipDelta {
    const d: GossipDelta = {
      address,
      incarnation: fields.incarnation ?? Date.now() * 1024,
      version: fields.version ?? 1,
      status: fields.status ?? 'joining',
      roles: fields.roles ?? [],
      unreachable: fields.unreachable ?? [],
      key: keys.publicKey,
      signature: new Uint8Array(64),
      vouch: null,
      decision: null
    }
    d.signature = signRecord(keys, d)
    if (vouch) d.vouch = this.vouch(d)
    return d
  }

  /**
   * `d` changed as `change` says, signed again by `signWith` (its own signature kept when null).
   */
  forge(d: GossipDelta, change: Partial<GossipDelta>, opts: ForgeOptions = {}): GossipDelta {
    const out: GossipDelta = { ...d, ...change }
    const keys = opts.signWith === undefined ? this.keys : opts.signWith
    if (keys !== null) out.signature = signRecord(keys, out)
    return out
  }

  vouch(d: GossipDelta): Endorsement {
    const by = this.self.toString()
    return { by, signature: this.keys.sign(vouchBytes(by, d)) }
  }

  /** A status decision about `d`, signed by this rogue as though it led the cluster. */
  decide(d: GossipDelta, status: MemberStatus): StatusDecision {
    const by = this.self.toString()
    return { status, by, signature: this.keys.sign(decisionBytes(by, d, status)) }
  }

  /** Asks a member for every record it holds. */
  async records(from: NodeAddress, timeoutMs = 5000): Promise<GossipDelta[]> {
    const before = this.received.length
    this.send(from, { kind: 'gossip', digest: [], deltas: [], reply: true, summary: null })
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const reply = this.received.slice(before).find((r) => r.from.equals(from) && r.msg.deltas.length > 0)
      if (reply !== undefined) return reply.msg.deltas
      if (Date.now() > deadline) throw ClusterError.ASK_TIMEOUT(`${from.toString()} sent no records in ${timeoutMs} ms`)
      await this._next(deadline - Date.now())
    }
  }

  /** One gossip message carrying `deltas`. */
  gossip(to: NodeAddress, deltas: GossipDelta[]): void {
    this.send(to, { kind: 'gossip', digest: [], deltas, reply: false, summary: null })
  }

  /** `deltas` in messages of at most `perMessage` records each. */
  flood(to: NodeAddress, deltas: GossipDelta[], perMessage = 5001): void {
    for (let i = 0; i < deltas.length; i += perMessage) this.gossip(to, deltas.slice(i, i + perMessage))
  }

  /** Any message at all; errors from the transport (a message too large, say) are thrown. */
  send(to: NodeAddress, msg: WireMessage): void {
    this.transport.send(to, msg)
  }

  async shutdown(): Promise<void> {
    for (const wake of this._waiters) wake()
    await this.transport.shutdown()
  }

  private _onmessage(from: NodeAddress, msg: WireMessage): void {
    this.heard++
    if (msg.kind !== 'gossip') return
    this.received.push({ from, msg })
    if (this.received.length > 1000) this.received.shift()
    for (const wake of this._waiters) wake()
  }

  private _next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this._waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(1, ms))
      this._waiters.add(done)
    })
  }
}
