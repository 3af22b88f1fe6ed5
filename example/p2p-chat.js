// A peer-to-peer chat room, the way a desktop app would run it: every peer is an actor system with
// a `room` actor, peers find each other through a seed, and each message a user writes is told to
// the room actor on every other peer. The terminal shows membership and traffic as they happen.
//
//   bare example/p2p-chat.js                 four peers on this machine, for about 12 seconds:
//                                            they join, chat, one leaves and comes back, one
//                                            crashes and the others notice
//   bare example/p2p-chat.js --name ada --port 4001
//   bare example/p2p-chat.js --name bob --port 4002 --seed 127.0.0.1:4001
//                                            one peer per terminal (or per machine: --host),
//                                            posting a line every few seconds until stopped
//
// Runs the same on Node, Bun and Deno (`node example/p2p-chat.js`).
import { ActorSystem, Cluster, detectRuntime, leaveOnSignals } from 'actor-cluster-bare'

const ROOM = 'p2p-chat'
const TIMINGS = { gossipIntervalMs: 200, heartbeatIntervalMs: 200, downAfterMs: 1500, failureDetector: { acceptableHeartbeatPauseMs: 600 } }
const LINES = ['hi all', 'anyone up for lunch?', 'pushed the fix', 'the build is green', 'brb', 'back', 'sounds good', 'see you tomorrow']
const started = Date.now()

function show(who, what) {
  console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${who.padEnd(5)} ${what}`)
}

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
  const cluster = await Cluster.join(system, { host, port, seeds: seed === null ? [] : [seed], ...TIMINGS })
  peer.cluster = cluster
  const other = (m) => (m.address.equals(cluster.self) ? 'itself' : `:${m.address.port}`)
  cluster.on('member-up', (m) => show(name, `sees ${other(m)} up          [${roster(cluster)}]`))
  cluster.on('member-leaving', (m) => show(name, `sees ${other(m)} leaving`))
  cluster.on('member-unreachable', (m) => show(name, `sees ${other(m)} unreachable`))
  cluster.on('member-removed', (m) => show(name, `sees ${other(m)} removed     [${roster(cluster)}]`))
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

function roster(cluster) {
  return cluster
    .members()
    .filter((m) => m.status === 'up')
    .map((m) => `:${m.address.port}`)
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

// Four peers on this machine, and a script of what their users do.
async function demo() {
  console.log(`${detectRuntime()}: four peers on 127.0.0.1, chatting for about 12 seconds`)
  const ada = await startPeer('ada')
  const seed = ada.cluster.self.toString()
  const peers = [ada, await startPeer('bob', { seed }), await startPeer('cyd', { seed }), await startPeer('dee', { seed })]
  await until(() => peers.every((p) => upCount(p) === 4))
  show('', '--- all four up')
  let line = 0
  const chat = async (n) => {
    for (let i = 0; i < n; i++) {
      await post(peers[line % peers.length], LINES[line++ % LINES.length])
      await sleep(300) // a human pace, so the terminal can be read
    }
  }
  await chat(4)

  show('', '--- cyd leaves the room')
  await peers[2].system.terminate()
  await until(() => upCount(ada) === 3)
  await chat(2)

  show('', '--- cyd comes back')
  peers[2] = await startPeer('cyd', { seed })
  await until(() => peers.every((p) => upCount(p) === 4))
  await chat(2)

  show('', '--- dee crashes (no goodbye)')
  await peers[3].system.terminate({ leave: false })
  const alive = peers.slice(0, 3)
  await until(() => alive.every((p) => p.cluster.member(peers[3].cluster.self)?.status === 'removed'))
  await chat(2)

  show('', '--- summary')
  for (const p of alive) {
    const s = p.system.stats()
    show(p.name, `wrote ${p.sent}, seen ${p.delivered} times; read ${p.received}; dead letters ${s.deadLetters}`)
  }
  for (const p of alive) await p.system.terminate()
  show('', 'everyone has left')
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
if (opts.name === null) await demo()
else await single(opts)

function parseArgs(list) {
  const out = { name: null, host: '127.0.0.1', port: 0, seed: null }
  for (let i = 0; i < list.length; i += 2) {
    const [key, value] = [list[i], list[i + 1]]
    if (key === '--name') out.name = value
    else if (key === '--host') out.host = value
    else if (key === '--port') out.port = Number(value)
    else if (key === '--seed') out.seed = value
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
