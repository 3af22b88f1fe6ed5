// One chat peer: an actor system with a `room` actor, in a cluster over hyperswarm. Every peer on
// the topic is a member, with no seed list and no address to type; each line posted is asked of
// the room on every other member, which confirms it saw it.
import { ActorSystem, Cluster } from 'actor-cluster-bare'
import { SwarmTransport } from 'actor-cluster-bare/swarm'

const TIMINGS = { gossipIntervalMs: 200, heartbeatIntervalMs: 300 }

export async function startPeer({ name, topic, bootstrap, host, print = console.log }) {
  const system = ActorSystem.create('pear-chat', { logLevel: 'warn' })
  system.spawn('room', (msg, ctx) => {
    print(`${name.padEnd(5)} <- ${msg.from}: ${msg.text}`)
    ctx.reply('seen')
  })
  // bootstrap and host only for a local testnet; on the internet hyperdht's own nodes are used.
  const transport = new SwarmTransport({ topic, bootstrap, host })
  const cluster = await Cluster.join(system, { transport, roles: [`name:${name}`], ...TIMINGS })
  const nameOf = (m) => m.roles.find((r) => r.startsWith('name:'))?.slice(5) ?? m.address.host.slice(0, 8)
  cluster.on('member-up', (m) => {
    if (!m.address.equals(cluster.self)) print(`${name.padEnd(5)} sees ${nameOf(m)} up`)
  })
  cluster.on('member-removed', (m) => {
    if (!m.address.equals(cluster.self)) print(`${name.padEnd(5)} sees ${nameOf(m)} gone`)
  })
  print(`${name.padEnd(5)} is ${cluster.self.toString()}`)

  return {
    name,
    cluster,
    others() {
      return cluster.members().filter((m) => m.status === 'up' && !m.address.equals(cluster.self))
    },
    // Tells every other member's room, and counts those that confirm.
    async post(text) {
      const rooms = this.others().map((m) => system.ref(`${m.address.toString()}/user/room`))
      const answers = await Promise.allSettled(rooms.map((room) => room.ask({ from: name, text }, { timeoutMs: 3000 })))
      const seen = answers.filter((a) => a.status === 'fulfilled').length
      print(`${name.padEnd(5)} -> ${text} (seen by ${seen} of ${rooms.length})`)
      return seen
    },
    async leave() {
      await cluster.leave()
      await system.terminate()
    }
  }
}
