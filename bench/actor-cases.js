// Benchmark cases through the actor layer, to set beside the transport-only cases of the same run:
// remote tells to one actor (throughput) and remote asks answered by one actor (round trips).
import b4a from 'b4a'
import { ActorSystem, Cluster, Sharding, detectRuntime, monotonicNow } from 'actor-cluster-bare'
import { BATCH, HIGH_QUEUE, RTT_SAMPLES, percentiles, tick } from './cases.js'

export const ACTOR_CASES = {
  // One actor counts remote tells of a `size`-byte Uint8Array until the sender's 'end'.
  'actor-tell': {
    async listen(report) {
      const { system, cluster } = await benchSystem(null)
      let messages = 0
      let first = 0
      let cpu = 0
      system.spawn('sink', (msg) => {
        if (msg === 'end') {
          const ms = Math.max(1, Date.now() - first)
          const cpuUsPerMsg = cpuSince(cpu) / Math.max(1, messages)
          system.terminate({ leave: false }).then(() => report({ messages, ms, cpuUsPerMsg }))
          return
        }
        if (messages++ === 0) {
          first = Date.now()
          cpu = cpuNow()
        }
      }, { mailbox: { capacity: 1_000_000 } })
      console.log(JSON.stringify({ port: cluster.self.port, runtime: detectRuntime() }))
    },
    async dial(port, size, until) {
      const { system, cluster } = await benchSystem(port)
      const sink = system.ref(`actor-cluster://bench@127.0.0.1:${port}/user/sink`)
      const body = b4a.alloc(size, 1)
      const peer = sink.node
      let sent = 0
      const cpu = cpuNow()
      while (Date.now() < until) {
        if ((cluster.transport.stats(peer)?.queuedBytes ?? 0) > HIGH_QUEUE) {
          await tick()
          continue
        }
        for (let i = 0; i < BATCH; i++) sink.tell(body)
        sent += BATCH
        await tick()
      }
      const cpuUsPerMsg = cpuSince(cpu) / Math.max(1, sent)
      sink.tell('end')
      const deadLetters = system.stats().deadLetters
      await system.terminate({ leave: false })
      return { sent, deadLetters, cpuUsPerMsg }
    }
  },

  // Ask round trips to an actor that replies with what it got.
  'actor-ask': {
    async listen(report) {
      const { system, cluster } = await benchSystem(null)
      system.spawn('echo', (msg, ctx) => {
        if (msg === 'end') system.terminate({ leave: false }).then(() => report({}))
        else ctx.reply(msg)
      })
      console.log(JSON.stringify({ port: cluster.self.port, runtime: detectRuntime() }))
    },
    async dial(port, size, until) {
      const { system } = await benchSystem(port)
      const echo = system.ref(`actor-cluster://bench@127.0.0.1:${port}/user/echo`)
      const body = b4a.alloc(size, 1)
      const times = []
      while (times.length < RTT_SAMPLES && Date.now() < until) {
        const t0 = monotonicNow()
        await echo.ask(body, { timeoutMs: 10_000 })
        times.push(monotonicNow() - t0)
      }
      echo.tell('end')
      await system.terminate({ leave: false })
      return percentiles(times.slice(1)) // the first includes the dial and handshake
    }
  }
}

// The same two cases through a sharded entity: the receiver hosts the type, the sender is a member
// that does not and reaches the entity through its ref, once the shard is located.
ACTOR_CASES['entity-tell'] = {
  async listen(report, opts = {}) {
    const { system, cluster, sharding } = await benchSharding(null, opts)
    let messages = 0
    let first = 0
    let cpu = 0
    sharding.register('sink', () => (msg, ctx) => {
      if (msg === 'ready?') return ctx.reply(true)
      if (msg === 'end') {
        const ms = Math.max(1, Date.now() - first)
        const cpuUsPerMsg = cpuSince(cpu) / Math.max(1, messages)
        system.terminate({ leave: false }).then(() => report({ messages, ms, cpuUsPerMsg }))
        return
      }
      if (messages++ === 0) {
        first = Date.now()
        cpu = cpuNow()
      }
    }, { spawn: { mailbox: { capacity: 1_000_000 } } })
    console.log(JSON.stringify({ port: cluster.self.port, runtime: detectRuntime() }))
  },
  async dial(port, size, until, opts = {}) {
    const { system, cluster, sharding } = await benchSharding(port, opts)
    const sink = await located(sharding, 'sink', 'one', until)
    const body = b4a.alloc(size, 1)
    const peer = sharding.ownerOf('sink', sharding.shardOf('one'))
    let sent = 0
    const cpu = cpuNow()
    while (Date.now() < until) {
      if ((cluster.transport.stats(peer)?.queuedBytes ?? 0) > HIGH_QUEUE) {
        await tick()
        continue
      }
      for (let i = 0; i < BATCH; i++) sink.tell(body)
      sent += BATCH
      await tick()
    }
    const cpuUsPerMsg = cpuSince(cpu) / Math.max(1, sent)
    sink.tell('end')
    const dropped = sharding.stats().dropped
    await system.terminate({ leave: false })
    return { sent, dropped, cpuUsPerMsg }
  }
}

// The entity tell again with no message storage: what saving each message costs.
ACTOR_CASES['entity-tell-unsaved'] = {
  listen: (report) => ACTOR_CASES['entity-tell'].listen(report, { storage: null }),
  dial: (port, size, until) => ACTOR_CASES['entity-tell'].dial(port, size, until, { storage: null })
}

ACTOR_CASES['entity-ask'] = {
  async listen(report) {
    const { system, cluster, sharding } = await benchSharding(null)
    sharding.register('echo', () => (msg, ctx) => {
      if (msg === 'end') system.terminate({ leave: false }).then(() => report({}))
      else ctx.reply(msg)
    })
    console.log(JSON.stringify({ port: cluster.self.port, runtime: detectRuntime() }))
  },
  async dial(port, size, until) {
    const { system, sharding } = await benchSharding(port)
    const echo = await located(sharding, 'echo', 'one', until)
    const body = b4a.alloc(size, 1)
    const times = []
    while (times.length < RTT_SAMPLES && Date.now() < until) {
      const t0 = monotonicNow()
      await echo.ask(body, { timeoutMs: 10_000 })
      times.push(monotonicNow() - t0)
    }
    echo.tell('end')
    await system.terminate({ leave: false })
    return percentiles(times.slice(1))
  }
}

async function benchSharding(seedPort, opts = {}) {
  const { system, cluster } = await benchSystem(seedPort)
  const sharding = Sharding.start(system, cluster, { numberOfShards: 10, tickMs: 100, ...opts })
  return { system, cluster, sharding }
}

// The entity's ref once its shard has an owner and one ask has gone there and back.
async function located(sharding, type, id, until) {
  const ref = sharding.entity(type, id)
  while (sharding.ownerOf(type, sharding.shardOf(id)) === null && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
  await ref.ask('ready?', { timeoutMs: 10_000 }).catch(() => {})
  return ref
}

// CPU time of this process in µs (user and system): a cost per message that a busy shared
// machine disturbs less than it does throughput.
const cpuUsage = typeof globalThis.Bare !== 'undefined' ? (await import('bare-os')).default.cpuUsage : () => globalThis.process.cpuUsage()

function cpuNow() {
  const u = cpuUsage()
  return u.user + u.system
}

function cpuSince(start) {
  return start === 0 ? 0 : cpuNow() - start
}

// An actor system on loopback: the first starts a cluster, the other joins it through `seedPort`.
async function benchSystem(seedPort) {
  const system = ActorSystem.create('bench', { logLevel: 'error' })
  const cluster = await Cluster.join(system, { port: 0, seeds: seedPort === null ? [] : [`127.0.0.1:${seedPort}`] })
  return { system, cluster }
}
