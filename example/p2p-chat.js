// A peer-to-peer chat room, the way a desktop app would run it: every peer is an actor system with
// a `room` actor, peers find each other through a seed, and each message a user writes is told to
// the room actor on every other peer. The terminal shows membership and traffic as they happen.
//
//   bare example/p2p-chat.js                 four peers on this machine, for about 24 seconds:
//                                            they join, chat, one leaves and comes back, one
//                                            crashes and the others notice; a table at the end
//   bare example/p2p-chat.js --pace 0.2      the same, five times faster
//   bare example/p2p-chat.js --name ada --port 4001
//   bare example/p2p-chat.js --name bob --port 4002 --seed 127.0.0.1:4001
//                                            one peer per terminal (or per machine: --host),
//                                            posting a line every few seconds until Ctrl-C,
//                                            which leaves the room
//
// Runs the same on Node, Bun and Deno (`node example/p2p-chat.js`).
import { ActorSystem, Cluster, detectRuntime, leaveOnSignals, renderStatus } from 'actor-cluster-bare'

const ROOM = 'p2p-chat'
const TIMINGS = { gossipIntervalMs: 200, heartbeatIntervalMs: 200, downAfterMs: 1500, failureDetector: { acceptableHeartbeatPauseMs: 600 } }
const LINES = ['hi all', 'anyone up for lunch?', 'pushed the fix', 'the build is green', 'brb', 'back', 'sounds good', 'see you tomorrow']
const started = Date.now()
let settled = false

function show(who, what) {
  console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${who.padEnd(5)} ${what}`)
}

// A member's name travels with it in the membership, as a role.
const nameOf = (m) => m.roles.find((r) => r.startsWith('name:'))?.slice(5) ?? `:${m.address.port}`

// One peer: an actor system, its room actor, and the cluster it joins.
async function startPeer(name, { host = '127.0.0.1', port = 0, seed = null } = {}) {
  const system = ActorSystem.create(ROOM, { logLevel: 'warn' })
  const peer = { name, system, cluster: null, sent: 0, received: 0, delivered: 0 }
  system.spawn('room', (msg, ctx) => {
    if (msg.type === 'post') {
      peer.received++
      show(name, `<- ${msg.from}: ${msg.text}`)
      ctx.reply('seen') // the writer counts what was seen
    } else if (msg.type === 'whois') {
      ctx.reply(name)
    }
  })
  const cluster = await Cluster.join(system, { host, port, seeds: seed === null ? [] : [seed], roles: [`name:${name}`], ...TIMINGS })
  peer.cluster = cluster
  const other = (m) => (m.address.equals(cluster.self) ? 'itself' : nameOf(m))
  cluster.on('member-up', (m) => show(name, `sees ${other(m)} up`.padEnd(24) + `[${roster(cluster)}]`))
  cluster.on('member-leaving', (m) => show(name, `sees ${other(m)} leaving`))
  cluster.on('member-unreachable', (m) => show(name, `sees ${other(m)} unreachable`))
  cluster.on('member-removed', (m) => show(name, `sees ${other(m)} removed`.padEnd(24) + `[${roster(cluster)}]`))
  cluster.on('leader-changed', (leader) => {
    if (!settled) return // while the four are still arriving, it changes with every join
    const m = leader === null ? null : cluster.member(leader)
    show(name, `leader is now ${m === null ? 'nobody' : other(m)}`)
  })
  await cluster.ready({ timeoutMs: 15000 })
  return peer
}

// What a user types: told to the room on every other member, each asked to confirm.
async function post(peer, text) {
  const rooms = peer.cluster
    .members()
    .filter((m) => m.status === 'up' && m.reachable && !m.address.equals(peer.cluster.self))
    .map((m) => peer.system.ref(`${m.address.toString()}/user/room`))
  peer.sent++
  show(peer.name, `-> ${rooms.length} peer${rooms.length === 1 ? '' : 's'}: ${text}`)
  const answers = await Promise.allSettled(rooms.map((room) => room.ask({ type: 'post', from: peer.name, text }, { timeoutMs: 2000 })))
  peer.delivered += answers.filter((a) => a.status === 'fulfilled').length
  const failed = answers.filter((a) => a.status === 'rejected').map((a) => a.reason.code)
  if (failed.length > 0) show(peer.name, `   not seen by ${failed.length}: ${failed.join(', ')}`)
}

// Who is up, the leader starred: `ada* bob cyd`.
function roster(cluster) {
  return cluster
    .members()
    .filter((m) => m.status === 'up')
    .map((m) => nameOf(m) + (cluster.leader !== null && m.address.equals(cluster.leader) ? '*' : ''))
    .join(' ')
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function until(cond, ms = 15000) {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('the demo timed out')
    await sleep(20)
  }
}

const upCount = (p) => p.cluster.members().filter((m) => m.status === 'up' && m.reachable).length

// Four peers on this machine, and a script of what their users do, paced for a person to follow.
async function demo(pace) {
  const pause = (ms) => sleep(ms * pace)
  console.log(`${detectRuntime()}: four peers on 127.0.0.1, chatting for about ${Math.round(6 + 18 * pace)} seconds`)
  const ada = await startPeer('ada')
  const seed = ada.cluster.self.toString()
  const peers = [ada, await startPeer('bob', { seed }), await startPeer('cyd', { seed }), await startPeer('dee', { seed })]
  await until(() => peers.every((p) => upCount(p) === 4))
  settled = true
  show('', `--- all four up; ${nameOf(ada.cluster.member(ada.cluster.leader))} leads (the lowest address does)`)
  await pause(1500)
  let line = 0
  const chat = async (n) => {
    for (let i = 0; i < n; i++) {
      await post(peers[line % peers.length], LINES[line++ % LINES.length])
      await pause(900) // so the terminal can be read
    }
  }
  await chat(4)

  show('', '--- cyd leaves the room')
  await pause(1000)
  await peers[2].system.terminate()
  await until(() => upCount(ada) === 3)
  await pause(1000)
  await chat(2)

  show('', '--- cyd comes back')
  await pause(1000)
  peers[2] = await startPeer('cyd', { seed })
  await until(() => peers.every((p) => upCount(p) === 4))
  await pause(1000)
  await chat(2)

  show('', '--- dee crashes (no goodbye)')
  await pause(1000)
  await peers[3].system.terminate({ leave: false })
  const alive = peers.slice(0, 3)
  await until(() => alive.every((p) => p.cluster.member(peers[3].cluster.self)?.status === 'removed'))
  await pause(1000)
  await chat(2)

  show('', `--- the room as ${ada.name} sees it`)
  const names = (m) => nameOf(ada.cluster.member(ada.cluster.members().find((x) => x.address.toString() === m.address).address))
  for (const l of renderStatus(ada.cluster.status(), { width: 100, title: 'members', name: names })) console.log('        ' + l)
  console.log('')
  console.log('        PEER   WROTE  SEEN BY  READ  DEAD LETTERS')
  for (const p of alive) {
    const s = p.system.stats()
    console.log(`        ${p.name.padEnd(7)}${String(p.sent).padEnd(7)}${String(p.delivered).padEnd(9)}${String(p.received).padEnd(6)}${s.deadLetters}`)
  }
  await pause(1500)
  for (const p of alive) await p.system.terminate()
  show('', `everyone has left after ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

// One peer in this process, posting every few seconds until Ctrl-C, which leaves the room.
async function single(opts) {
  const peer = await startPeer(opts.name, opts)
  leaveOnSignals(peer.system)
  show(peer.name, `listening on ${peer.cluster.self.toString()}`)
  for (let i = 0; ; i++) {
    await sleep(3000)
    if (upCount(peer) > 1) await post(peer, `${LINES[i % LINES.length]} (from ${opts.name})`)
  }
}

const opts = parseArgs(argv())
if (opts.name === null) await demo(opts.pace)
else await single(opts)

function parseArgs(list) {
  const out = { name: null, host: '127.0.0.1', port: 0, seed: null, pace: 1 }
  for (let i = 0; i < list.length; i += 2) {
    const [key, value] = [list[i], list[i + 1]]
    if (key === '--name') out.name = value
    else if (key === '--host') out.host = value
    else if (key === '--port') out.port = Number(value)
    else if (key === '--seed') out.seed = value
    else if (key === '--pace') out.pace = Number(value)
    else throw new Error(`unknown option ${key}; see the top of example/p2p-chat.js`)
  }
  if (out.name !== null && out.seed === null) out.seed = `${out.host}:${out.port}`
  return out
}

function argv() {
  const g = globalThis
  if (g.Bare) return g.Bare.argv.slice(2)
  if (g.Deno) return g.Deno.args.slice()
  return g.process.argv.slice(2)
}
