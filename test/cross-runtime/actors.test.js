// Actors on Bare, Node, Bun and Deno in one cluster: every runtime asks and tells every other
// (so Bare to Node, Node to Bun, Bun to Deno and Deno to Bare among them), with refs and rich
// values inside messages, and sees ASK_TIMEOUT and NO_RECIPIENT the same way.
import test from 'brittle'
import path from 'node:path'
import { ROOT, RUNTIMES, start } from './helpers.js'

const PEER = path.join(ROOT, 'test', 'cross-runtime', 'actor-peer.js')

test('tell and ask between actors on every pair of runtimes', { timeout: 120000 }, async (t) => {
  const nodes = []
  let seed = '-'
  for (const runtime of RUNTIMES) {
    const proc = start(t, runtime, PEER, [seed, String(RUNTIMES.length)])
    const hello = await proc.json()
    t.is(hello.runtime, runtime)
    if (seed === '-') seed = hello.address.replace(/^.*@/, '')
    nodes.push({ runtime, proc })
  }
  for (const n of nodes) {
    const seen = []
    for (;;) {
      const line = await n.proc.json(60000)
      if (line.done) break
      seen.push(line.runtime)
      t.absent(line.error, `${n.runtime} -> ${line.runtime}: no error`)
      t.ok(line.echoed, `${n.runtime} -> ${line.runtime}: ask came back with every value intact (${line.askMs} ms)`)
      t.is(line.acks, 100, `${n.runtime} -> ${line.runtime}: 100 tells acknowledged through the ref inside them`)
      t.is(line.timeout, 'ASK_TIMEOUT', `${n.runtime} -> ${line.runtime}: unanswered ask times out`)
      t.is(line.missing, 'NO_RECIPIENT', `${n.runtime} -> ${line.runtime}: ask to a missing actor`)
    }
    t.alike(seen.sort(), RUNTIMES.filter((r) => r !== n.runtime).sort(), `${n.runtime} checked every other runtime`)
  }
})
