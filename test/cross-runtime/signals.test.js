// Ctrl-C is a goodbye: a node run with leaveOnSignals that gets SIGINT or SIGTERM leaves, so the
// others see it leaving, then removed, never unreachable; then its process exits by itself.
import test from 'brittle'
import path from 'node:path'
import { ActorSystem, Cluster, NodeAddress } from 'actor-cluster-bare'
import { ROOT, RUNTIMES, start } from './helpers.js'

const SCRIPT = path.join(ROOT, 'test', 'cross-runtime', 'leave-peer.js')
const EARLY_SCRIPT = path.join(ROOT, 'test', 'cross-runtime', 'early-signal-peer.js')

for (const runtime of RUNTIMES) {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    test(`${runtime}: ${signal} makes a node leave; the others see leaving, then removed`, { timeout: 60000 }, async (t) => {
      const system = ActorSystem.create('signals', { logLevel: 'silent' })
      const seed = await Cluster.join(system, { port: 0, gossipIntervalMs: 100, heartbeatIntervalMs: 100 })
      t.teardown(() => system.terminate({ leave: false }))
      const proc = start(t, runtime, SCRIPT, [`127.0.0.1:${seed.self.port}`])
      const { up } = await proc.json(30000)
      const seen = []
      for (const e of ['member-leaving', 'member-unreachable', 'member-down', 'member-removed']) {
        seed.on(e, (m) => {
          if (m.address.toString() === up) seen.push(e)
        })
      }
      // Up on the seed too before the signal, so that what follows is the leave.
      const deadline = Date.now() + 10000
      while (seed.members().find((m) => m.address.toString() === up)?.status !== 'up' && Date.now() < deadline) await sleep(20)
      proc.child.kill(signal)
      const exit = await proc.exited
      while (!seen.includes('member-removed') && Date.now() < deadline + 10000) await sleep(20)
      t.alike(seen, ['member-leaving', 'member-removed'], `seen: ${seen.join(', ')}`)
      t.is(exit.code, 0, `exited by itself with 0 (${JSON.stringify(exit)}; ${proc.stderr.slice(0, 300)})`)
    })
  }
}

// leaveOnSignals set right after Cluster.join, and the signal before the node is up: through a seed
// nobody answers at (the node never gets up), and through a live seed (the seed may know it as
// joining by then, and must then see it leave rather than crash).
for (const runtime of ['node', 'bare']) {
  test(`${runtime}: SIGINT before the node is up, seed unreachable: the process exits with 0, nothing uncaught`, { timeout: 60000 }, async (t) => {
    const proc = start(t, runtime, EARLY_SCRIPT, [`127.0.0.1:${await closedPort()}`])
    await proc.json(30000)
    proc.child.kill('SIGINT')
    const exit = await proc.exited
    t.is(exit.code, 0, `exited with 0 (${JSON.stringify(exit)})`)
    t.is(proc.stderr, '', 'nothing on stderr')
  })

  test(`${runtime}: SIGINT while joining a live seed: the process exits with 0 and the seed never sees it crash`, { timeout: 60000 }, async (t) => {
    const system = ActorSystem.create('signals', { logLevel: 'silent' })
    const seed = await Cluster.join(system, { port: 0, gossipIntervalMs: 100, heartbeatIntervalMs: 100 })
    t.teardown(() => system.terminate({ leave: false }))
    const proc = start(t, runtime, EARLY_SCRIPT, [`127.0.0.1:${seed.self.port}`])
    const { joined } = await proc.json(30000)
    const seen = []
    for (const e of ['member-joined', 'member-up', 'member-leaving', 'member-unreachable', 'member-down', 'member-removed']) {
      seed.on(e, (m) => {
        if (m.address.toString() === joined) seen.push(e)
      })
    }
    proc.child.kill('SIGINT')
    const exit = await proc.exited
    t.is(exit.code, 0, `exited with 0 (${JSON.stringify(exit)})`)
    t.is(proc.stderr, '', 'nothing on stderr')
    // Known to the seed or not, it is never judged: wait past what detecting a crash would take.
    const deadline = Date.now() + 5000
    while (seed.member(NodeAddress.parse(joined)) !== null && seed.member(NodeAddress.parse(joined)).status !== 'removed' && Date.now() < deadline) await sleep(50)
    const last = seed.member(NodeAddress.parse(joined))
    t.ok(last === null || last.status === 'removed', `gone from the seed's view (${last?.status ?? 'never known'}; seen: ${seen.join(', ')})`)
    t.absent(seen.includes('member-unreachable') || seen.includes('member-down'), `not seen crashing (seen: ${seen.join(', ')})`)
  })
}

// A loopback port nobody listens on: one just closed.
async function closedPort() {
  const net = await import('node:net')
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
