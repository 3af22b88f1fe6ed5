// A cluster of real processes, one per runtime, each signing its record with its own Ed25519 key
// and checking the others' with its runtime's crypto: they join through the first, all see four
// up, when one is killed the others mark it down and remove it, and when it starts again at the
// same address (a new key, a new incarnation) they take it back.
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

test('a cluster of Bare, Node, Bun and Deno processes with signed records forms, removes a killed member and takes it back restarted', { timeout: 150000 }, async (t) => {
  const nodes = []
  let seed = '-'
  for (const runtime of RUNTIMES) {
    const proc = start(t, runtime, PEER, [seed])
    const hello = await proc.json()
    t.is(hello.runtime, runtime)
    if (seed === '-') seed = hello.address.replace(/^.*@/, '')
    t.is(hello.key.length, 64, `${runtime} has a 32-byte public key`)
    nodes.push({ runtime, proc, address: hello.address, key: hello.key })
  }
  t.is(new Set(nodes.map((n) => n.key)).size, 4, 'four different keys')
  // The leader is the lowest address, compared as `system@host:port` strings.
  const key = (a) => a.replace(/^.*:\/\//, '')
  const lowest = nodes.map((n) => n.address).sort((a, b) => (key(a) < key(b) ? -1 : 1))[0]
  for (const n of nodes) {
    const line = await until(n.proc, (l) => l.up === 4 && l.leader === lowest, 30000, `${n.runtime} to see four up`)
    t.is(line.leader, lowest, `${n.runtime} sees four up, led by the lowest address`)
    t.is(line.forgers, 0, `${n.runtime} found no record whose signature did not check`)
  }
  const victim = nodes[2]
  victim.proc.child.kill('SIGKILL')
  for (const n of nodes.filter((x) => x !== victim)) {
    await until(n.proc, (l) => l.removed === victim.address, 30000, `${n.runtime} to remove ${victim.runtime}`)
    t.pass(`${n.runtime} removed the killed ${victim.runtime} node`)
  }
  await victim.proc.exited
  const port = victim.address.replace(/^.*:/, '')
  const back = start(t, victim.runtime, PEER, [seed, port])
  const hello = await back.json()
  t.is(hello.address, victim.address, 'restarted at the same address')
  t.not(hello.key, victim.key, 'with a new key')
  for (const n of [...nodes.filter((x) => x !== victim), { runtime: victim.runtime, proc: back }]) {
    await until(n.proc, (l) => l.up === 4, 30000, `${n.runtime} to see four up again`)
    t.pass(`${n.runtime} sees the restarted ${victim.runtime} node up`)
  }
})
