// Chat rooms as sharded entities: each room is an actor that lives on one of the peers, found by
// its name wherever it is. Three peers host rooms, a client-only node posts to them without
// hosting any, a fourth peer joins and takes over some rooms, and one peer leaves, handing its
// rooms over first. A room keeps its history while it lives on one peer (a durable message
// storage or the room's own persistence would keep it across moves).
//
//   bare example/sharded-chat.js      (or node, bun, deno) runs for a few seconds on loopback
import { ActorSystem, Cluster, Sharding } from 'actor-cluster-bare'

const APP = 'sharded-chat'
const TIMINGS = { gossipIntervalMs: 100, heartbeatIntervalMs: 100, leaveTimeoutMs: 5000 }
const SHARDING = { numberOfShards: 20, tickMs: 100 }
const ROOMS = ['lobby', 'random', 'builds', 'design', 'lunch', 'music', 'books', 'travel']

function room(peer, name) {
  const history = []
  return {
    started() {
      console.log(`  room ${name} opens on ${peer}`)
    },
    stopped() {
      console.log(`  room ${name} closes on ${peer} after ${history.length} posts`)
    },
    receive(msg, ctx) {
      if (msg.type === 'post') history.push(`${msg.from}: ${msg.text}`)
      else if (msg.type === 'where') ctx.reply(peer)
      else if (msg.type === 'history') ctx.reply(history.slice(-3))
    }
  }
}

async function startPeer(name, seed) {
  const system = ActorSystem.create(APP, { logLevel: 'warn' })
  const cluster = await Cluster.join(system, { port: 0, seeds: seed === null ? [] : [seed], ...TIMINGS })
  const sharding = Sharding.start(system, cluster, SHARDING)
  sharding.register('room', (id) => room(name, id), { idleTimeoutMs: 60_000 })
  await cluster.ready()
  console.log(`${name} is up at ${cluster.self}`)
  return { name, system, cluster, sharding }
}

async function whereIsEveryRoom(sharding) {
  const where = await Promise.all(ROOMS.map((r) => sharding.entity('room', r).ask({ type: 'where' }, { timeoutMs: 10_000 })))
  return ROOMS.map((r, i) => `${r}@${where[i]}`).join(' ')
}

async function settle(peers, count) {
  // Until every peer's allocation spreads the shards over `count` peers.
  for (let i = 0; i < 200; i++) {
    const ok = peers.every((p) => Object.keys(p.sharding.stats().shardsPerNode.room ?? {}).length === count)
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const ada = await startPeer('ada', null)
const bob = await startPeer('bob', ada.cluster.self)
const cyd = await startPeer('cyd', ada.cluster.self)
await settle([ada, bob, cyd], 3)

// A client-only node: it posts to rooms and hosts none.
const clientSystem = ActorSystem.create(APP, { logLevel: 'warn' })
const clientCluster = await Cluster.join(clientSystem, { clientOnly: true, seeds: [ada.cluster.self], ...TIMINGS })
const client = Sharding.start(clientSystem, clientCluster, SHARDING)
await clientCluster.ready()
console.log('the client sees:', await whereIsEveryRoom(client))

let n = 0
const post = (text) => {
  for (const r of ROOMS) client.entity('room', r).tell({ type: 'post', from: 'client', text: `${text} #${++n}` })
}
post('hello')

const dee = await startPeer('dee', ada.cluster.self)
const timer = setInterval(() => post('still here'), 50)
await settle([ada, bob, cyd, dee], 4)
console.log('after dee joined:', await whereIsEveryRoom(client))

console.log('bob leaves')
await bob.system.terminate()
await settle([ada, cyd, dee], 3)
clearInterval(timer)
console.log('after bob left:', await whereIsEveryRoom(client))
console.log('lobby, last posts:', (await client.entity('room', 'lobby').ask({ type: 'history' })).join(' | '))

const dropped = [ada, cyd, dee, { sharding: client }].reduce((sum, p) => sum + p.sharding.stats().dropped, 0)
console.log(`every room answered; ${n} posts sent, ${dropped} dropped`)
await clientSystem.terminate()
for (const p of [dee, cyd, ada]) await p.system.terminate()
