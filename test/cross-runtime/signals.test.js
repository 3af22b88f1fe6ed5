// Ctrl-C is a goodbye: a node run with leaveOnSignals that gets SIGINT or SIGTERM leaves, so the
// others see it leaving, then removed, never unreachable; then its process exits by itself.
import test from 'brittle'
import path from 'node:path'
import { ActorSystem, Cluster } from 'actor-cluster-bare'
import { ROOT, RUNTIMES, start } from './helpers.js'

const SCRIPT = path.join(ROOT, 'test', 'cross-runtime', 'leave-peer.js')

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

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
