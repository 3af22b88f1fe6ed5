// Actors on other nodes, over loopback TCP: remote tell and ask, refs inside messages, dead
// letters, death watch on stop and on node loss, client-only nodes, channels, and bad bodies.
import test from 'brittle'
import b4a from 'b4a'
import { ActorSystem, ActorRef, Cluster, Terminated, TcpTransport, NodeAddress } from 'actor-cluster-bare'
import { FAST_CLUSTER } from 'actor-cluster-bare/testkit'
import { until } from './helpers/transport.js'

// A node: an actor system joined to the cluster whose first node is `seed` (itself when null).
async function node(t, seed = null, opts = {}) {
  const system = ActorSystem.create('remote', { logLevel: 'silent', ...opts.system })
  const cluster = await Cluster.join(system, { ...FAST_CLUSTER, port: 0, seeds: seed === null ? [] : [seed.cluster.self], ...opts.cluster })
  const n = { system, cluster }
  t.teardown(() => system.terminate({ leave: false }))
  return n
}

async function pair(t) {
  const a = await node(t)
  const b = await node(t, a)
  await upEverywhere([a, b], 2)
  return [a, b]
}

async function upEverywhere(nodes, count) {
  await until(() => nodes.every((n) => n.cluster.members().filter((m) => m.status === 'up').length === count), 10_000, `${count} up`)
}

test('remote tell arrives in order and remote ask gets the reply; paths carry the node address', async (t) => {
  const [a, b] = await pair(t)
  const got = []
  const sink = b.system.spawn('sink', (msg, ctx) => {
    if (msg === 'count?') ctx.reply(got.length)
    else got.push(msg)
  })
  t.is(sink.path, `${b.cluster.self.toString()}/user/sink`)
  const remote = a.system.ref(sink.path)
  t.absent(remote.isLocal)
  for (let i = 0; i < 2000; i++) remote.tell({ i, text: 'message ' + i })
  t.is(await remote.ask('count?', { timeoutMs: 5000 }), 2000)
  t.ok(got.every((m, i) => m.i === i && m.text === 'message ' + i), 'all in order')
  t.is(a.system.stats().remote.envelopesSent, 2001)
})

test('a ref inside a message arrives as a working ref, and replies travel back through it', async (t) => {
  const [a, b] = await pair(t)
  const inbox = []
  const listener = a.system.spawn('listener', (msg) => inbox.push(msg))
  b.system.spawn('greeter', (msg) => {
    t.ok(msg.replyTo instanceof ActorRef, 'arrived as an ActorRef')
    msg.replyTo.tell(`hello ${msg.name}`)
  })
  a.system.ref(`${b.cluster.self}/user/greeter`).tell({ name: 'ada', replyTo: listener })
  await until(() => inbox.length === 1, 5000, 'the greeting')
  t.is(inbox[0], 'hello ada')

  // The sender of a tell is a ref too; a remote actor can answer with ctx.reply.
  const echo = b.system.spawn('echo', (msg, ctx) => ctx.reply(msg * 2))
  const asker = a.system.spawn('asker', async (msg, ctx) => {
    if (typeof msg === 'number') inbox.push(msg)
    else a.system.ref(echo.path).tell(21, ctx.self)
  })
  asker.tell('go')
  await until(() => inbox.length === 2, 5000, 'the reply')
  t.is(inbox[1], 42)
})

test('remote ask: ASK_TIMEOUT when nobody answers, NO_RECIPIENT when nobody is there, ACTOR_FAILED when the actor throws', async (t) => {
  const [a, b] = await pair(t)
  b.system.spawn('mute', () => {})
  b.system.spawn('thrower', () => {
    throw new Error('no thanks')
  })
  const at = (name) => a.system.ref(`${b.cluster.self}/user/${name}`)
  await t.exception(at('mute').ask('hi', { timeoutMs: 100 }), /ASK_TIMEOUT/)
  await t.exception(at('ghost').ask('hi', { timeoutMs: 5000 }), /NO_RECIPIENT/)
  await t.exception(at('thrower').ask('hi', { timeoutMs: 5000 }), /ACTOR_FAILED.*no thanks/)
  t.is(b.system.stats().deadLettersByReason['no-recipient'], 1, 'the remote side counted the dead letter')
  t.is(a.system.stats().asksPending, 0)
})

test('asks are answered only by the node asked: a third node forging the reply, the sender or a failure is ignored', async (t) => {
  const [a, b] = await pair(t)
  const c = await node(t, a)
  await upEverywhere([a, b, c], 3)
  const replyPaths = []
  let forgerDone = 0
  // c learns where a's ask waits (b leaks it) and tries every way to settle it first.
  c.system.spawn('forger', (msg, ctx) => {
    if (msg === 'boom') throw new Error('a failure sent to an ask that is not ours')
    const { replyTo } = msg
    c.system.ref(`${a.cluster.self}/user/nobody`).tell('x', replyTo)
    ctx.self.tell('boom', replyTo)
    replyTo.tell('forged')
    forgerDone++
  })
  // Resolved on b, so the leak crosses the wire and c holds its own ref to a's reply path.
  const forger = b.system.ref(`${c.cluster.self}/user/forger`)
  b.system.spawn('slow', (msg, ctx) => {
    replyPaths.push(ctx.sender.localPath)
    forger.tell({ replyTo: ctx.sender })
    const sender = ctx.sender
    setTimeout(() => sender.tell('real:' + msg), 300)
  })
  const slow = a.system.ref(`${b.cluster.self}/user/slow`)
  const answers = await Promise.all([slow.ask(1, { timeoutMs: 5000 }), slow.ask(2, { timeoutMs: 5000 }), slow.ask(3, { timeoutMs: 5000 })])
  t.alike(answers, ['real:1', 'real:2', 'real:3'], 'the real replies win')
  t.is(forgerDone, 3)
  await until(() => a.system.stats().remote.forgedReplies === 9, 5000, 'three forgeries per ask counted')
  t.ok(replyPaths.every((p) => /^\/temp\/[0-9a-f]{24}$/.test(p)), 'reply paths are random ids')
  t.is(new Set(replyPaths).size, 3, 'all different')

  // Guessing: the paths of a counter find nothing.
  const before = a.system.stats().deadLettersByReason['no-recipient'] ?? 0
  const pending = slow.ask('guess', { timeoutMs: 5000 })
  for (let i = 1; i <= 20; i++) c.system.ref(`${a.cluster.self}/temp/${i}`).tell('guessed')
  await until(() => (a.system.stats().deadLettersByReason['no-recipient'] ?? 0) === before + 20, 5000, 'the guesses dead-lettered')
  t.is(await pending, 'real:guess', 'and the ask still gets its own reply')
})

test('remote death watch: Terminated when the actor stops, and node-down when its node is killed', async (t) => {
  const [a, b] = await pair(t)
  const c = await node(t, a)
  await upEverywhere([a, b, c], 3)
  const seen = []
  const watcher = a.system.spawn('watcher', (msg, ctx) => {
    if (msg instanceof Terminated) seen.push(`${msg.ref.name}@${msg.ref.node.port}:${msg.reason}`)
    else ctx.watch(msg)
  })
  const onB = b.system.spawn('short-lived', () => {})
  const onC = c.system.spawn('on-c', () => {})
  watcher.tell(a.system.ref(onB.path))
  watcher.tell(a.system.ref(onC.path))
  watcher.tell(a.system.ref(`${b.cluster.self}/user/never-was`))
  await until(() => b.system.stats().remote.remoteWatchers === 1 && c.system.stats().remote.remoteWatchers === 1, 5000, 'watches registered')
  await until(() => seen.length === 1, 5000, 'never-was')
  b.system.stop(onB)
  await until(() => seen.length === 2, 5000, 'short-lived')

  const pendingAsk = a.system.ref(`${c.cluster.self}/user/on-c`).ask('will you answer?', { timeoutMs: 30_000 })
  pendingAsk.catch(() => {})
  const killedAt = Date.now()
  await c.cluster.shutdown() // no goodbye to the cluster: a killed process
  await until(() => seen.length === 3, 10_000, 'node-down')
  t.comment(`node loss reported after ${Date.now() - killedAt} ms`)
  const port = (n) => n.cluster.self.port
  t.alike(seen, [`never-was@${port(b)}:no-such-actor`, `short-lived@${port(b)}:stopped`, `on-c@${port(c)}:node-down`])
  await t.exception(pendingAsk, /UNREACHABLE/, 'an ask waiting on the lost node fails')
  await until(() => a.cluster.member(c.cluster.self)?.status === 'removed', 10_000, 'removed')
  a.system.ref(onC.path).tell('anyone?')
  t.is(a.system.stats().deadLettersByReason['node-gone'], 1, 'a message to a node that left is a dead letter')
  await t.exception(a.system.ref(onC.path).ask('x'), /UNREACHABLE/)
})

test('signals for a node that is gone are counted, not sent', async (t) => {
  const [a, b] = await pair(t)
  let fail = null
  const gate = new Promise((resolve) => (fail = resolve))
  // Fails on b's ask only after b is gone: the ask failure has nobody to go to.
  a.system.spawn('late', async () => {
    await gate
    throw new Error('too late')
  })
  b.system.ref(`${a.cluster.self}/user/late`).ask('?', { timeoutMs: 30_000 }).catch(() => {})
  await until(() => a.system.stats().remote.envelopesReceived === 1, 5000, 'the ask arrived')
  await b.cluster.shutdown() // gone without a goodbye
  await until(() => ['down', 'removed'].includes(a.cluster.member(b.cluster.self)?.status), 10_000, 'b down')
  t.is(a.system.stats().remote.signalsDropped, 0)
  fail()
  await until(() => a.system.stats().remote.signalsDropped === 1, 5000, 'the ask failure counted')
  t.ok(a.cluster.metrics().includes('actor_cluster_remote_signals_dropped_total 1'), 'in metrics()')
})

test('a client-only node sees the members, asks and tells, and is never a member itself', async (t) => {
  const [a, b] = await pair(t)
  b.system.spawn('svc', (msg, ctx) => ctx.reply(`served ${msg}`))
  const client = await node(t, a, { cluster: { clientOnly: true } })
  await until(() => client.cluster.members().filter((m) => m.status === 'up').length === 2, 5000, 'client sees two members')
  t.absent(client.cluster.members().some((m) => m.address.equals(client.cluster.self)), 'not in its own view')
  t.is(await client.system.ref(`${b.cluster.self}/user/svc`).ask('me', { timeoutMs: 5000 }), 'served me')
  await new Promise((resolve) => setTimeout(resolve, 300))
  for (const n of [a, b]) {
    t.absent(n.cluster.members().some((m) => m.address.equals(client.cluster.self)), 'members never list the client')
  }
  t.ok(client.cluster.leader.equals(a.cluster.leader), 'the client knows the leader')
  await client.system.terminate()
  t.is(a.cluster.members().filter((m) => m.status === 'up').length, 2, 'its going changes nothing')
})

test('channels: send, broadcast to the other members, and messages on unopened channels are counted', async (t) => {
  const [a, b] = await pair(t)
  const c = await node(t, a)
  await upEverywhere([a, b, c], 3)
  const got = []
  for (const n of [b, c]) n.cluster.channel('chat', (from, body) => got.push(`${n.cluster.self.port}<-${from.port}:${b4a.toString(body)}`))
  const chat = a.cluster.channel('chat')
  t.exception(() => a.cluster.channel('chat'), /CHANNEL_TAKEN/)
  chat.send(b.cluster.self, b4a.from('direct'))
  t.is(chat.broadcast(b4a.from('all')), 2)
  await until(() => got.length === 3, 5000, 'three arrivals')
  const p = (n) => n.cluster.self.port
  t.alike(got.sort(), [`${p(b)}<-${p(a)}:all`, `${p(b)}<-${p(a)}:direct`, `${p(c)}<-${p(a)}:all`].sort())
  a.cluster.channel('nobody-listens').send(b.cluster.self, b4a.from('?'))
  await until(() => b.cluster.stats().unhandledMessages === 1, 5000, 'counted as unhandled')
  t.pass('unhandled counted')
})

test('a 1 MiB message through a channel arrives whole', async (t) => {
  const [a, b] = await pair(t)
  const got = []
  b.cluster.channel('bulk', (from, body) => got.push(body))
  const body = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) & 0xff)
  a.cluster.channel('bulk').send(b.cluster.self, body)
  await until(() => got.length === 1, 10_000, 'the message')
  t.ok(got[0].byteLength === body.byteLength && got[0].every((x, i) => x === ((i * 31) & 0xff)), 'intact')
})

test('a peer sending an undecodable body is disconnected and counted; other peers carry on', async (t) => {
  const [a, b] = await pair(t)
  const got = []
  a.system.spawn('sink', (m) => got.push(m))
  const rogue = new TcpTransport({ self: new NodeAddress('remote', '127.0.0.1', 0), cluster: 'remote', heartbeatIntervalMs: 0, maxDialAttempts: 1 })
  await rogue.start()
  t.teardown(() => rogue.shutdown())
  rogue.setHandler(() => {})
  rogue.send(a.cluster.self, { kind: 'envelope', to: '/user/sink', from: null, manifest: '', body: b4a.from([0xee, 1, 2]), correlationId: null })
  await until(() => a.system.stats().remote.badMessages === 1, 5000, 'bad message counted')
  await until(() => !a.cluster.transport.peers().some((p) => p.equals(rogue.self)), 5000, 'rogue disconnected')
  const sink = b.system.ref(`${a.cluster.self}/user/sink`)
  for (let i = 0; i < 100; i++) sink.tell(i)
  await until(() => got.length === 100, 5000, 'legitimate traffic')
  t.is(got.length, 100, 'nothing else was lost')
})

test('Cluster.join with serializeLocalMessages makes local tells fail as remote ones would', async (t) => {
  const n = await node(t, null, { cluster: { serializeLocalMessages: true } })
  const ref = n.system.spawn('x', () => {})
  t.exception(() => ref.tell({ when: () => 1 }), /NOT_SERIALIZABLE/)
  ref.tell({ fine: [1n, new Date()] })
  t.pass('plain data passes')
})

test('a failing ask names the actor, the timeout and the line that asked, also from an async member-up listener', async (t) => {
  const a = await node(t)
  const b = await node(t, a)
  const caught = new Promise((resolve) => {
    // The README's pattern: an async listener asking the new member, with the catch it needs.
    a.cluster.on('member-up', async (member) => {
      if (!member.address.equals(b.cluster.self)) return
      try {
        await a.system.ref(`${member.address}/user/nobody`).ask('hi', { timeoutMs: 4000 })
      } catch (err) {
        resolve(err)
      }
    })
  })
  const err = await caught
  t.is(err.code, 'NO_RECIPIENT')
  t.ok(err.message.includes(`${b.cluster.self}/user/nobody`) && err.message.includes('4000 ms'), err.message)
  t.ok(/actors-remote\.test\.js/.test(err.stack.split('\n')[1]), `the stack starts at the caller: ${err.stack.split('\n')[1]}`)
  b.system.spawn('slow', () => {}) // never replies
  const timeout = await a.system.ref(`${b.cluster.self}/user/slow`).ask('hi', { timeoutMs: 200 }).catch((e) => e)
  t.is(timeout.code, 'ASK_TIMEOUT')
  t.ok(timeout.message.includes('/user/slow') && timeout.message.includes('200 ms'), timeout.message)
  t.ok(/actors-remote\.test\.js/.test(timeout.stack), 'the timeout names the caller too')
})

test('envelopes from peers to /system/ paths are refused and counted; the connection carries on', async (t) => {
  const [a, b] = await pair(t)
  const got = []
  b.system.spawn('sink', (msg) => got.push(msg))
  const drops = []
  b.cluster.transport.on('drop', (d) => drops.push(d))
  const body = b4a.alloc(0)
  for (const to of ['/system/guardian', '/system/receptionist']) {
    a.cluster.send(b.cluster.self, { kind: 'envelope', to, from: null, manifest: 'x', body, correlationId: null })
  }
  a.system.ref(`${b.cluster.self.toString()}/user/sink`).tell('after')
  await until(() => got.length === 1, 5000, 'the next message')
  t.is(got[0], 'after', 'delivered after the refused ones, on the same connection')
  t.alike(drops.map((d) => d.reason), ['forbidden-recipient', 'forbidden-recipient'])
  t.is(b.cluster.transport.stats(a.cluster.self).drops['forbidden-recipient'], 2, 'counted by the transport')
  t.is(b.system.stats().remote.badMessages, 0, 'not taken for bad messages')
})

test('seeds may be spelled by any address that reaches them: localhost:P joins a node announcing 127.0.0.1:P', async (t) => {
  const a = await node(t)
  const b = await node(t, null, { cluster: { seeds: [`localhost:${a.cluster.self.port}`] } })
  await upEverywhere([a, b], 2)
  t.ok(b.cluster.members().some((m) => m.address.equals(a.cluster.self)), 'the seed under the name it announced')
  t.absent(b.cluster.members().some((m) => m.address.host === 'localhost'), 'not under the dialled one')
  a.system.spawn('echo', (msg, ctx) => ctx.reply(msg))
  t.is(await b.system.ref(`${a.cluster.self}/user/echo`).ask('hi', { timeoutMs: 5000 }), 'hi', 'and traffic flows')
})
