// Sharded nodes for tests: actor systems joined to one cluster (on an in-memory bus or loopback
// TCP), each with sharding started, and entities that record where and when they start and stop.
import { ActorSystem, Cluster, Bus, InMemoryTransport, NodeAddress, Sharding } from 'actor-cluster-bare'
import { FAST_CLUSTER } from 'actor-cluster-bare/testkit'
import { until } from './transport.js'

export const FAST_SHARDING = { tickMs: 40, numberOfShards: 30 }

export class ShardedCluster {
  constructor(t, opts = {}) {
    this.t = t
    this.opts = opts
    this.bus = opts.transport === 'tcp' ? null : new Bus({ seed: 7 })
    this.nodes = []
    this.host = 1
    // Every start and stop of every entity on every node, in order: { node, type, id, event }.
    this.events = []
    t.teardown(() => this.shutdown())
  }

  // Starts a node: `host` registers the type 'counter' unless false; `clientOnly` and `roles`
  // go to the cluster; `sharding` to Sharding.start.
  async add(opts = {}) {
    const system = ActorSystem.create('shard', { logLevel: 'silent' })
    const seeds = this.nodes.length === 0 ? [] : [this.nodes[0].cluster.self]
    const clusterOpts = { ...FAST_CLUSTER, roles: opts.roles ?? [], clientOnly: opts.clientOnly === true, ...this.opts.cluster, ...opts.cluster }
    let cluster
    if (this.bus !== null) {
      const self = new NodeAddress('shard', `10.0.1.${this.host++}`, 2552)
      const transport = new InMemoryTransport({ self, bus: this.bus })
      cluster = await Cluster.join(system, { ...clusterOpts, transport, seeds: seeds.length === 0 && opts.clientOnly !== true ? [] : seeds })
    } else {
      cluster = await Cluster.join(system, { ...clusterOpts, port: 0, seeds })
    }
    const sharding = Sharding.start(system, cluster, { ...FAST_SHARDING, ...this.opts.sharding, ...opts.sharding })
    const node = { system, cluster, sharding, name: cluster.self.toString() }
    if (opts.host !== false && opts.clientOnly !== true) this.register(node, 'counter', opts.entity)
    this.nodes.push(node)
    return node
  }

  register(node, type, opts = {}) {
    node.sharding.register(type, (id) => counter(this, node, type, id, opts), opts)
  }

  runners() {
    return this.nodes.filter((n) => !n.cluster.clientOnly && !n.gone)
  }

  live() {
    return this.nodes.filter((n) => !n.gone)
  }

  async awaitUp(count, ms = 10_000) {
    await until(
      () => this.live().every((n) => n.cluster.members().filter((m) => m.status === 'up' && m.reachable).length === count),
      ms,
      `${count} members up everywhere`
    )
  }

  // Every shard of `type` has an owner among `owners` in every live node's allocation.
  async awaitAllocated(type = 'counter', owners = this.runners(), ms = 15_000, balanced = true) {
    const keys = new Set(owners.map((n) => n.cluster.self.toString()))
    await until(
      () =>
        this.live().every((n) => {
          const s = n.sharding.stats()
          const per = s.shardsPerNode[type] ?? {}
          const total = Object.values(per).reduce((a, b) => a + b, 0)
          if (total !== s.numberOfShards || !Object.keys(per).every((k) => keys.has(k))) return false
          if (!balanced) return true
          const counts = [...keys].map((k) => per[k] ?? 0)
          return Math.max(...counts) - Math.min(...counts) <= 1
        }),
      ms,
      `every shard of ${type} allocated to ${keys.size} nodes`
    )
  }

  // Entities live now, by "type/id": the nodes they live on (from their own records).
  liveEntities() {
    const live = new Map()
    for (const e of this.events) {
      const key = e.type + '/' + e.id
      let set = live.get(key)
      if (set === undefined) live.set(key, (set = new Set()))
      if (e.event === 'start') set.add(e.node)
      else set.delete(e.node)
    }
    return live
  }

  // The most nodes any one entity was ever live on at the same moment.
  maxConcurrent() {
    const live = new Map()
    let max = 0
    for (const e of this.events) {
      const key = e.type + '/' + e.id
      const n = (live.get(key) ?? 0) + (e.event === 'start' ? 1 : -1)
      live.set(key, n)
      if (n > max) max = n
    }
    return max
  }

  async shutdown() {
    for (const n of this.nodes) if (!n.gone) await n.system.terminate({ leave: false })
    this.bus?.close()
  }
}

// An entity that counts the messages it gets and answers where it lives.
function counter(kit, node, type, id, opts) {
  let count = 0
  return {
    started() {
      kit.events.push({ node: node.name, type, id, event: 'start' })
    },
    stopped() {
      kit.events.push({ node: node.name, type, id, event: 'stop' })
    },
    async receive(msg, ctx) {
      if (opts.delayMs) await new Promise((resolve) => setTimeout(resolve, opts.delayMs))
      if (msg === 'where') ctx.reply(node.name)
      else if (msg === 'count') ctx.reply(count)
      else if (msg && msg.add !== undefined) {
        count += msg.add
        if (msg.log) msg.log.tell({ id, seq: msg.seq, node: node.name })
      }
    }
  }
}

export function ids(n, prefix = 'e') {
  return Array.from({ length: n }, (_, i) => prefix + i)
}
