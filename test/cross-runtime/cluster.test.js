// A cluster of real processes, one per runtime: they join through the first, all see four up,
// and when one is killed the others mark it down and remove it.
import test from 'brittle'
import path from 'node:path'
import { ROOT, RUNTIMES, start } from './helpers.js'

const PEER = path.join(ROOT, 'test', 'cross-runtime', 'cluster-peer.js')

async function until(proc, pred, ms, what) {
  const deadline = Date.now() + ms
  for (;;) {
    const left = deadline - Date.now()
    if (left <= 0) throw new Error('timed out waiting for ' + what)
    const line = await proc.json(left)
    if (pred(line)) return line
  }
}

test('a cluster of Bare, Node, Bun and Deno processes forms, and removes a killed member', { timeout: 120000 }, async (t) => {
  const nodes = []
  let seed = '-'
  for (const runtime of RUNTIMES) {
    const proc = start(t, runtime, PEER, [seed])
    const hello = await proc.json()
    t.is(hello.runtime, runtime)
    if (seed === '-') seed = hello.address.replace(/^.*@/, '')
    nodes.push({ runtime, proc, address: hello.address })
  }
  // The leader is the lowest address, compared as `system@host:port` strings.
  const key = (a) => a.replace(/^.*:\/\//, '')
  const lowest = nodes.map((n) => n.address).sort((a, b) => (key(a) < key(b) ? -1 : 1))[0]
  for (const n of nodes) {
    const line = await until(n.proc, (l) => l.up === 4 && l.leader === lowest, 30000, `${n.runtime} to see four up`)
    t.is(line.leader, lowest, `${n.runtime} sees four up, led by the lowest address`)
  }
  const victim = nodes[2]
  victim.proc.child.kill('SIGKILL')
  for (const n of nodes.filter((x) => x !== victim)) {
    await until(n.proc, (l) => l.removed === victim.address, 30000, `${n.runtime} to remove ${victim.runtime}`)
    t.pass(`${n.runtime} removed the killed ${victim.runtime} node`)
  }
})
