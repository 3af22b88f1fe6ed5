// Membership against a member (or a stranger who can reach a port) that sends whatever gossip it
// likes: forged downs and incarnations, huge versions, floods of phantom records, and a node that
// was itself paused. On the in-memory bus and over loopback TCP.
import test from 'brittle'
import { ActorSystem, Bus, Cluster, InMemoryTransport, NodeAddress } from 'actor-cluster-bare'
import { ClusterTestKit, FAST_CLUSTER } from 'actor-cluster-bare/testkit'
import { keepAsking } from './helpers/asks.js'
import { until } from './helpers/transport.js'

const TRANSPORTS = ['memory', 'tcp']

async function kit(t, opts) {
  const k = await ClusterTestKit.start(opts)
  t.teardown(() => k.shutdown())
  return k
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// A rogue whose address sorts after every member's, so it never leads by the rules. On TCP its
// port is picked from 65000 up: addresses compare as strings, and ephemeral ports are below.
async function rogueAfterLeader(k) {
  const lowest = k.addresses.map((a) => a.key).sort()[0]
  for (let i = 0; i < 20; i++) {
    const port = k.bus !== null ? 0 : 65000 + Math.floor(Math.random() * 500)
    const rogue = await k.rogue({ port }).catch(() => null)
    if (rogue !== null && rogue.self.key > lowest && k.addresses.every((a) => rogue.self.key > a.key)) return rogue
  }
  throw new Error('no rogue address sorts after the members')
}

function refused(node, code) {
  return node.stats().refusedRecords[code] ?? 0
}

for (const transport of TRANSPORTS) {
  test(`${transport}: forged downs of a live node are refused: it keeps running and stays up everywhere`, async (t) => {
    const k = await kit(t, { nodes: 4, transport })
    await k.awaitUp(4)
    const victim = k.addresses[2]
    const removedSeen = []
    for (const n of k.running()) n.on('member-down', (m) => removedSeen.push(m.address.toString()))

    // A stranger: the victim's record a version on, saying down, signed by the stranger.
    const stranger = await k.rogue()
    const records = await stranger.records(k.addresses[0])
    const rec = records.find((r) => r.address === victim.toString())
    t.ok(rec, 'the stranger got the records by asking')
    stranger.gossip(k.addresses[0], [stranger.forge(rec, { version: rec.version + 1, status: 'down' })])
    // The record as it is, with a leader decision the stranger signed.
    stranger.gossip(k.addresses[1], [{ ...rec, decision: stranger.decide(rec, 'down') }])

    // A member that is not the leader deciding the victim down.
    const member = await rogueAfterLeader(k)
    member.gossip(k.addresses[3], [member.ownRecord()])
    await k.awaitCondition(() => k.node(3).member(member.self)?.status === 'up', 5000, 'the rogue admitted as a member')
    member.gossip(k.addresses[3], [{ ...rec, decision: member.decide(rec, 'down') }])
    member.gossip(k.addresses[0], [{ ...rec, decision: member.decide(rec, 'removed') }])

    await sleep(1000)
    t.ok(k.nodes[2] !== null && k.node(2).member(victim).status === 'up', 'the victim still runs and sees itself up')
    for (const n of k.running()) t.is(n.member(victim).status, 'up', `${n.self.toString()} sees the victim up`)
    t.alike(removedSeen, [], 'nobody saw anyone down')
    t.ok(refused(k.node(0), 'BAD_RECORD') >= 1 && k.node(0).stats().forgersDisconnected >= 1, 'the forged version was refused and its sender cut off')
    t.ok(refused(k.node(1), 'BAD_RECORD') >= 1, 'the stranger decision was refused')
    t.ok(refused(k.node(3), 'BAD_RECORD') >= 1, "a member's decision out of turn was refused")
  })

  test(`${transport}: a forged higher incarnation for another member's address is refused`, async (t) => {
    const k = await kit(t, { nodes: 3, transport })
    await k.awaitUp(3)
    const victim = k.addresses[1]
    const incarnation = k.node(1).incarnation
    const member = await rogueAfterLeader(k)
    member.gossip(k.addresses[0], [member.ownRecord()])
    await k.awaitCondition(() => k.node(0).member(member.self)?.status === 'up', 5000, 'the rogue admitted as a member')
    // Signed with the rogue's own key and vouched for by it: a second key for a live address.
    const fake = member.record(victim.toString(), { incarnation: incarnation + 1000, version: 1 }, member.keys, true)
    member.gossip(k.addresses[0], [fake])
    member.gossip(k.addresses[2], [fake])
    await sleep(800)
    for (const n of k.running()) t.is(n.member(victim).incarnation, incarnation, `${n.self.toString()} keeps the real incarnation`)
    t.ok(k.nodes[1] !== null && k.node(1).member(victim).status === 'up', 'the victim is still up')
    t.ok(refused(k.node(0), 'BAD_RECORD') >= 1, 'refused and counted')
  })

  test(`${transport}: a version near 2^53 is refused, gossip carries on and a later joiner becomes up`, async (t) => {
    const k = await kit(t, { nodes: 3, transport })
    await k.awaitUp(3)
    const rogue = await k.rogue()
    rogue.gossip(k.addresses[0], [rogue.ownRecord({ version: Number.MAX_SAFE_INTEGER })])
    const rec = (await rogue.records(k.addresses[1])).find((r) => r.address === k.addresses[2].toString())
    rogue.gossip(k.addresses[1], [rogue.forge(rec, { version: Number.MAX_SAFE_INTEGER - 1 })])
    await sleep(300)
    t.is(k.node(0).member(rogue.self), null, 'the record never entered the view')
    t.ok(refused(k.node(0), 'BAD_RECORD') >= 1 && refused(k.node(1), 'BAD_RECORD') >= 1, 'refused and counted on both')
    await k.add()
    const ms = await k.awaitUp(4, 10000)
    t.comment(`a joiner became up ${ms} ms later`)
    t.ok(k.running().every((n) => n.stats().gossipErrors === 0), 'no gossip failed to be handled')
  })

  test(`${transport}: 10,001 forged records are refused, a later joiner becomes up, and nobody dials the phantoms`, { timeout: 60000 }, async (t) => {
    const k = await kit(t, { nodes: 3, transport })
    await k.awaitUp(3)
    const traps = [await k.rogue(), await k.rogue(), await k.rogue()]
    const stranger = await k.rogue()
    const phantoms = []
    for (const trap of traps) phantoms.push(stranger.record(trap.self.toString(), {}, stranger.keys, true))
    for (let i = phantoms.length; i < 10001; i++) {
      const address = transport === 'memory' ? `actor-cluster://testkit@10.1.${i >> 8}.${i & 255}:2552` : `actor-cluster://testkit@127.0.0.1:${1 + (i % 1000)}`
      phantoms.push(stranger.record(address, { incarnation: i + 1 }, stranger.keys, true))
    }
    stranger.flood(k.addresses[0], phantoms, 5001)
    await k.awaitCondition(() => refused(k.node(0), 'BAD_RECORD') >= 10001, 20000, 'every phantom refused')
    t.is(k.node(0).members().length, 3, 'no phantom in the view')
    await k.add()
    await k.awaitUp(4, 15000)
    await sleep(500)
    for (const trap of traps) t.is(trap.heard, 0, `nobody sent anything to the phantom at ${trap.self.toString()}`)
    for (const n of k.running()) t.is(n.members().length, 4, `${n.self.toString()} holds the four real members only`)
  })

  test(`${transport}: membership is capped at maxMembers; a join beyond it is refused with MEMBERSHIP_FULL`, async (t) => {
    const k = await kit(t, { nodes: 3, transport, cluster: { maxMembers: 4 } })
    await k.awaitUp(3)
    const member = await rogueAfterLeader(k)
    member.gossip(k.addresses[0], [member.ownRecord()])
    await k.awaitCondition(() => k.node(0).member(member.self)?.status === 'up', 5000, 'the rogue admitted as the fourth member')
    // A member vouching for phantoms finds no room for them.
    member.gossip(k.addresses[0], Array.from({ length: 20 }, (_, i) => member.record(`actor-cluster://testkit@10.2.0.${i}:2552`, {}, undefined, true)))
    await k.awaitCondition(() => refused(k.node(0), 'MEMBERSHIP_FULL') >= 20, 5000, 'the phantoms refused')
    t.is(k.node(0).members().length, 4, 'no more than maxMembers')
    const joiner = await k.add()
    const err = await new Promise((resolve) => joiner.once('join-refused', resolve))
    t.is(err.code, 'MEMBERSHIP_FULL', 'the joiner is told why')
    await sleep(300)
    for (const n of k.running().slice(0, 3)) t.is(n.members().length, 4, `${n.self.toString()} still holds four`)
  })

  test(`${transport}: one member alone makes nobody unreachable: a lone accusation moves no one and takes no lead`, async (t) => {
    const k = await kit(t, { nodes: 4, transport, cluster: { downAfterMs: 60000 } })
    await k.awaitUp(4)
    const member = await rogueAfterLeader(k)
    member.gossip(k.addresses[0], [member.ownRecord()])
    await k.awaitCondition(() => k.running().every((n) => n.member(member.self)?.status === 'up'), 5000, 'the rogue admitted as a member')
    const leader = k.node(0).leader
    // The leader and the member after it, accused at their current records, again and again.
    const accused = [k.addresses[0], k.addresses[1]]
    const wrong = []
    for (const n of k.running()) {
      n.on('member-unreachable', (m) => wrong.push(`${n.self.toString()} saw ${m.address.toString()} unreachable`))
      n.on('leader-changed', (l) => wrong.push(`${n.self.toString()} took ${l?.toString()} as leader`))
    }
    for (let i = 0; i < 10; i++) {
      const fresh = await member.records(k.addresses[2])
      const unreachable = accused.map((a) => ({ address: a.toString(), version: fresh.find((r) => r.address === a.toString()).version }))
      for (const to of k.addresses) member.gossip(to, [member.ownRecord({ unreachable })])
      await sleep(150)
    }
    t.alike(wrong, [], 'nobody saw the accused unreachable, and the leader stayed')
    for (const n of k.running()) t.ok(n.leader.equals(leader), `${n.self.toString()} still takes ${leader.toString()} as leader`)
  })

  test(`${transport}: a live node called unreachable by a quorum of its watchers refutes it, and everyone sees it reachable again`, async (t) => {
    // Each member watched by two: two members saying so is a majority of its watchers.
    const k = await kit(t, { nodes: 4, transport, cluster: { downAfterMs: 60000, monitoredMembers: 2 } })
    await k.awaitUp(4)
    const rogues = [await rogueAfterLeader(k), await rogueAfterLeader(k)]
    for (const r of rogues) r.gossip(k.addresses[0], [r.ownRecord()])
    await k.awaitCondition(() => k.running().every((n) => rogues.every((r) => n.member(r.self)?.status === 'up')), 5000, 'the rogues admitted as members')
    const victim = k.addresses[2]
    const rec = (await rogues[0].records(k.addresses[0])).find((r) => r.address === victim.toString())
    let accused = false
    k.node(0).on('member-unreachable', (m) => {
      if (m.address.equals(victim)) accused = true
    })
    for (const r of rogues) r.gossip(k.addresses[0], [r.ownRecord({ unreachable: [{ address: victim.toString(), version: rec.version }] })])
    await k.awaitCondition(() => accused, 5000, 'the accusation taken')
    await k.awaitCondition(
      () => k.node(2).stats().refutations >= 1 && k.running().every((n) => n.member(victim).reachable),
      5000,
      'the victim refuted and reachable everywhere'
    )
    t.ok(k.node(0).member(victim).status === 'up', 'still up')
    t.ok(k.running().every((n) => n.stats().refutations === 0 || n.self.equals(victim)), 'only the accused refuted')
  })

  test(`${transport}: a member cannot take itself up; its own decision is refused where it would not lead`, async (t) => {
    const k = await kit(t, { nodes: 3, transport })
    await k.awaitUp(3)
    const member = await rogueAfterLeader(k)
    const own = member.ownRecord()
    const before = refused(k.node(1), 'BAD_RECORD')
    member.gossip(k.addresses[1], [{ ...own, decision: member.decide(own, 'up') }])
    await k.awaitCondition(() => refused(k.node(1), 'BAD_RECORD') > before, 5000, 'the self-decision refused')
    t.is(k.node(1).member(member.self)?.status, 'joining', 'taken as a joiner, not up')
  })

  test(`${transport}: a member vouches for a few joiners at a time; joiners nobody runs are never moved up`, async (t) => {
    const k = await kit(t, { nodes: 3, transport, cluster: { downAfterMs: 60000 } })
    await k.awaitUp(3)
    const member = await rogueAfterLeader(k)
    member.gossip(k.addresses[0], [member.ownRecord()])
    await k.awaitCondition(() => k.node(0).member(member.self)?.status === 'up', 5000, 'the rogue admitted as a member')
    const phantoms = Array.from({ length: 40 }, (_, i) =>
      member.record(transport === 'memory' ? `actor-cluster://testkit@10.3.0.${i}:2552` : `actor-cluster://testkit@127.0.0.1:${1 + i}`, {}, undefined, true)
    )
    member.gossip(k.addresses[0], phantoms)
    await k.awaitCondition(() => refused(k.node(0), 'MEMBERSHIP_FULL') >= 24, 5000, 'the vouches beyond the cap refused')
    t.is(k.node(0).members().length, 4 + 16, 'sixteen phantoms held, no more')
    // The leader has met none of them: they stay joiners, and the cap stays full.
    await sleep(1500)
    for (const n of k.running()) {
      const up = n.members().filter((m) => m.status === 'up').length
      t.is(up, 4, `${n.self.toString()} has only the four real members up`)
    }
    member.gossip(k.addresses[0], [member.record('actor-cluster://testkit@10.3.1.1:2552', {}, undefined, true)])
    await k.awaitCondition(() => refused(k.node(0), 'MEMBERSHIP_FULL') >= 25, 5000, 'a later vouch still refused')
  })

  test(`${transport}: a node paused 7 s accuses nobody on waking; no healthy node sees another unreachable`, { timeout: 60000 }, async (t) => {
    // Each node watches two neighbours, so most members count the paused node's observations.
    const k = await kit(t, { nodes: 6, transport, cluster: { downAfterMs: 60000, monitoredMembers: 2 } })
    await k.awaitUp(6)
    const paused = 3
    const wrong = []
    k.running().forEach((n, i) => {
      if (i === paused) return
      n.on('member-unreachable', (m) => {
        if (!m.address.equals(k.addresses[paused])) wrong.push(`${n.self.toString()} saw ${m.address.toString()} unreachable`)
      })
    })
    await k.pause(paused, 7000)
    await sleep(1500)
    t.alike(wrong, [], 'no healthy member was seen unreachable')
    t.ok(k.node(paused).stats().pausesDetected >= 1, 'the paused node noticed its own pause')
    await k.awaitUp(6, 10000)
    t.pass('all six up again')
  })

  test(`${transport}: asks between healthy members all succeed while a member sleeps 7 s and wakes`, { timeout: 60000 }, async (t) => {
    const bus = transport === 'memory' ? new Bus({ seed: 7 }) : null
    const systems = []
    const nodes = []
    for (let i = 0; i < 4; i++) {
      const system = ActorSystem.create('pause', { logLevel: 'silent' })
      const via = bus === null ? { port: 0 } : { transport: new InMemoryTransport({ self: new NodeAddress('pause', `10.9.0.${i + 1}`, 2552), bus }) }
      const seeds = i === 0 ? [] : [nodes[0].self]
      const cluster = await Cluster.join(system, { ...FAST_CLUSTER, downAfterMs: 60000, monitoredMembers: 2, ...via, seeds })
      t.teardown(() => system.terminate({ leave: false }))
      systems.push(system)
      nodes.push(cluster)
    }
    await until(() => nodes.every((c) => c.members().filter((m) => m.status === 'up' && m.reachable).length === 4), 10000, 'four up everywhere')
    systems[1].spawn('echo', (msg, ctx) => ctx.reply(msg))
    const echo = systems[0].ref(`${nodes[1].self.toString()}/user/echo`)
    const sleeper = nodes[3]
    const wrong = []
    for (const c of nodes.slice(0, 3)) {
      c.on('member-unreachable', (m) => {
        if (!m.address.equals(sleeper.self)) wrong.push(`${c.self.toString()} saw ${m.address.toString()} unreachable`)
      })
    }
    const asking = keepAsking(echo)
    const others = nodes.slice(0, 3).map((c) => c.self)
    if (bus !== null) bus.partition([sleeper.self], others)
    await sleeper._sleepFor(7000).finally(() => bus?.heal([sleeper.self]))
    await until(() => nodes.every((c) => c.members().find((m) => m.address.equals(sleeper.self))?.reachable === true), 10000, 'the sleeper reachable everywhere again')
    await sleep(1000)
    const asks = await asking.stop()
    t.ok(sleeper.stats().pausesDetected >= 1, 'the sleeper noticed its own pause')
    t.alike(wrong, [], 'no healthy member was seen unreachable')
    t.ok(asks.ok > 100, `${asks.ok} asks answered between healthy members`)
    t.alike(asks.failed, [], 'no ask between healthy members failed')
  })
}

