// Several cluster nodes in one process, for tests: on an in-memory bus (with its faults) or on
// loopback TCP. Crash and restart nodes, cut and heal the bus, and wait for a membership
// condition with a bounded wait.

import { now } from '../../backends/clock.ts'
import { ClusterError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { NodeAddress } from '../node-address.ts'
import { Bus, type LinkFaults } from '../transport/bus.ts'
import { InMemoryTransport } from '../transport/in-memory-transport.ts'
import { TcpTransport } from '../transport/tcp-transport.ts'
import { Cluster, type ClusterOptions } from './cluster.ts'
import type { Member } from './membership.ts'
import { RogueMember } from './rogue-member.ts'

/** What `new ClusterTestKit(options)` takes. */
export interface TestKitOptions {
  /** How many nodes to start; node 0 is everyone's seed. */
  nodes: number
  /**
   * 'memory': one bus in this process; 'tcp': loopback sockets.
   * @default 'memory'
   */
  transport?: 'memory' | 'tcp'
  /**
   * The cluster's (and every node's system) name.
   * @default 'testkit'
   */
  system?: string
  /**
   * Seed of the bus's random faults, so a failing run can be replayed.
   * @default 1
   */
  seed?: number
  /**
   * Loss, delay and reordering on every link of the in-memory bus.
   * @default none
   */
  faults?: LinkFaults
  /**
   * Where every node logs.
   * @default silent
   */
  log?: Logger
  /**
   * Cluster timings for every node, on top of FAST_CLUSTER.
   * @default FAST_CLUSTER
   */
  cluster?: ClusterOptions
}

export const FAST_CLUSTER: ClusterOptions = {
  gossipIntervalMs: 50,
  heartbeatIntervalMs: 50,
  downAfterMs: 500,
  seedRetryBaseMs: 20,
  seedRetryMaxMs: 200,
  leaveTimeoutMs: 3000,
  failureDetector: { threshold: 8, minStdDeviationMs: 20, acceptableHeartbeatPauseMs: 100 }
}

/** Several cluster nodes in one process, for tests: crash, restart, partition and wait. */
export class ClusterTestKit {
  /** The cluster's name. */
  readonly system: string
  /** The in-memory bus the nodes share, or null on loopback TCP. */
  readonly bus: Bus | null
  /** Each node by index; null while crashed. */
  nodes: (Cluster | null)[]
  /** Each node's address by index (kept across a crash, for restart). */
  addresses: NodeAddress[]
  private _opts: TestKitOptions
  private _nextHost: number
  private _rogues: RogueMember[]

  /** A kit with `opts.nodes` nodes started, each joined through node 0. */
  static async start(opts: TestKitOptions): Promise<ClusterTestKit> {
    const kit = new ClusterTestKit(opts)
    for (let i = 0; i < opts.nodes; i++) await kit.add()
    return kit
  }

  /** A kit with no node yet (`add()` starts them); `ClusterTestKit.start` is the usual way. */
  constructor(opts: TestKitOptions) {
    this.system = opts.system ?? 'testkit'
    this.bus = (opts.transport ?? 'memory') === 'memory' ? new Bus({ seed: opts.seed ?? 1, faults: opts.faults }) : null
    this.nodes = []
    this.addresses = []
    this._opts = opts
    this._nextHost = 1
    this._rogues = []
  }

  /**
   * A malicious node at the next address, on the same bus or loopback: not a member until it
   * sends a member its own record, and then one that sends whatever it likes.
   * On TCP, `port` picks its port (default: any free one).
   */
  async rogue(opts: { port?: number } = {}): Promise<RogueMember> {
    const self = this.bus !== null ? new NodeAddress(this.system, `10.0.0.${this._nextHost++}`, 2552) : new NodeAddress(this.system, '127.0.0.1', opts.port ?? 0)
    const rogue = await RogueMember.start({ transport: this._transport(self) })
    this._rogues.push(rogue)
    return rogue
  }

  /**
   * Node `i` stops for `ms` as a stopped process would (SIGSTOP, a long pause): no timers, deaf to
   * every message, silent; on the bus, cut off both ways too. Then its timers fire, late.
   */
  async pause(i: number, ms: number): Promise<void> {
    const node = this.node(i)
    const others = this.addresses.filter((_, j) => j !== i)
    if (this.bus !== null) this.bus.partition([this.addresses[i]!], others)
    try {
      await node._sleepFor(ms)
    } finally {
      if (this.bus !== null) this.bus.heal([this.addresses[i]!])
    }
  }

  /** Starts one more node; the first node is every node's seed. */
  async add(): Promise<Cluster> {
    const i = this.nodes.length
    const self = this.bus !== null ? new NodeAddress(this.system, `10.0.0.${this._nextHost++}`, 2552) : new NodeAddress(this.system, '127.0.0.1', 0)
    const node = await this._startAt(self)
    this.nodes.push(node)
    this.addresses[i] = node.self
    return node
  }

  /** The running node `i`; throws if it is crashed. */
  node(i: number): Cluster {
    const n = this.nodes[i]
    if (n === null || n === undefined) throw ClusterError.BAD_OPTIONS(`node ${i} is not running`)
    return n
  }

  /** Stops a node with no goodbye to the cluster, as a killed process would. */
  async crash(i: number): Promise<void> {
    const n = this.node(i)
    this.nodes[i] = null
    await n.shutdown()
  }

  /** Starts a node again at the address it had: a new incarnation. */
  async restart(i: number): Promise<Cluster> {
    if (this.nodes[i] !== null) await this.crash(i)
    const node = await this._startAt(this.addresses[i]!)
    this.nodes[i] = node
    return node
  }

  /** Cuts the bus links between nodes `a` and nodes `b` (only a to b with `oneWay`). */
  partition(a: number[], b: number[], opts: { oneWay?: boolean } = {}): void {
    this._bus().partition(a.map((i) => this.addresses[i]!), b.map((i) => this.addresses[i]!), opts)
  }

  /** Restores every cut link of the bus. */
  heal(): void {
    this._bus().heal()
  }

  /** Loss, delay, reordering and duplication on every link of the bus from now on. */
  setFaults(faults: LinkFaults): void {
    this._bus().setDefaultFaults(faults)
  }

  /** The nodes not crashed. */
  running(): Cluster[] {
    return this.nodes.filter((n): n is Cluster => n !== null)
  }

  /**
   * Waits until `condition` holds (checked every 10 ms), at most `timeoutMs`; says what it
   * waited for when it gives up.
   */
  async awaitCondition(condition: () => boolean, timeoutMs = 10_000, what = 'a cluster condition'): Promise<number> {
    const started = now()
    while (!condition()) {
      if (now() - started > timeoutMs) throw new ClusterError('ASK_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`)
      await new Promise<void>((resolve) => setTimeout(resolve, 10))
    }
    return now() - started
  }

  /** Every running node sees exactly `count` members up (and reachable), and the same leader. */
  async awaitUp(count: number, timeoutMs = 10_000): Promise<number> {
    return this.awaitCondition(() => this.converged(count), timeoutMs, `${count} members up on every node`)
  }

  /** True when every running node sees `count` members up and reachable and the same leader. */
  converged(count: number): boolean {
    const nodes = this.running()
    if (nodes.length === 0) return false
    const leader = nodes[0]!.leader
    return nodes.every((n) => {
      const up = n.members().filter((m: Member) => m.status === 'up' && m.reachable)
      return up.length === count && n.members().filter((m) => m.status !== 'removed').length === count && leader !== null && leader.equals(n.leader)
    })
  }

  /** Shuts every node (and rogue) down at once and closes the bus. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.running().map((n) => n.shutdown()), ...this._rogues.map((r) => r.shutdown())])
    this.nodes = this.nodes.map(() => null)
    this.bus?.close()
  }

  private async _startAt(self: NodeAddress): Promise<Cluster> {
    const seed = this.addresses[0] ?? self
    const transport = this._transport(self)
    const cluster = await Cluster.join({ name: this.system, log: this._opts.log }, { ...FAST_CLUSTER, ...this._opts.cluster, transport, seeds: [seed] })
    return cluster
  }

  private _transport(self: NodeAddress): InMemoryTransport | TcpTransport {
    return this.bus !== null
      ? new InMemoryTransport({ self, bus: this.bus, log: this._opts.log })
      : new TcpTransport({ self, log: this._opts.log, backoffBaseMs: 20, backoffMaxMs: 200 })
  }

  private _bus(): Bus {
    if (this.bus === null) throw ClusterError.BAD_OPTIONS('partitions and faults need the in-memory transport')
    return this.bus
  }
}
