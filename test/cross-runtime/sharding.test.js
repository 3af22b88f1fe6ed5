// Sharding across Bare, Node, Bun and Deno: a runner on each hosts one entity type, and entities
// asked from every runner and from a client-only node on every runtime answer from one runner
// each, the same one whoever asks, with runners of all four runtimes among them.
import test from 'brittle'
import path from 'node:path'
import { ROOT, RUNTIMES, start } from './helpers.js'

const PEER = path.join(ROOT, 'test', 'cross-runtime', 'sharding-peer.js')

test('sharded entities on runners of every runtime, reached from runners and clients of every runtime', { timeout: 180000 }, async (t) => {
  const runners = []
  let seed = '-'
  for (const runtime of RUNTIMES) {
    const proc = start(t, runtime, PEER, ['runner', seed, String(RUNTIMES.length)])
    const hello = await proc.json(30000)
    t.is(hello.runtime, runtime)
    if (seed === '-') seed = hello.address.replace(/^.*@/, '')
    runners.push({ runtime, proc })
  }
  for (const r of runners) t.alike(await r.proc.json(60000), { ready: true }, `${r.runtime}: the shards are spread over the four runners`)
  const clients = []
  for (const runtime of RUNTIMES) {
    const proc = start(t, runtime, PEER, ['client', seed, String(RUNTIMES.length)])
    t.is((await proc.json(30000)).runtime, runtime)
    clients.push({ runtime, proc, client: true })
  }
  let reference = null
  for (const n of [...runners, ...clients]) {
    const who = `${n.runtime} ${n.client ? 'client' : 'runner'}`
    const result = await n.proc.json(60000)
    t.is(result.error, null, `${who}: every ask answered intact`)
    t.is(Object.keys(result.answers).length, 100, `${who}: 100 entities`)
    t.alike(new Set(Object.values(result.answers)), new Set(RUNTIMES), `${who}: entities answered from runners on all four runtimes`)
    t.is(result.dropped, 0, `${who}: nothing dropped`)
    if (reference === null) reference = result.answers
    else t.alike(result.answers, reference, `${who}: each entity lives where everyone else found it`)
  }
  for (const c of clients) t.is((await c.proc.exited).code, 0, `${c.runtime} client: left and ended`)
})
