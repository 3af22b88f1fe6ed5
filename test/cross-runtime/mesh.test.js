// A TcpTransport mesh with one process per runtime: every node sends thousands of envelopes to
// every other; all arrive, in order per sender, with the right `from`; plaintext and TLS.
import test from 'brittle'
import path from 'node:path'
import { ROOT, RUNTIMES, start, certDir } from './helpers.js'

const PEER = path.join(ROOT, 'test', 'cross-runtime', 'mesh-peer.js')
const COUNT = 5000

for (const secure of [false, true]) {
  const how = secure ? 'over TLS with a cluster secret' : 'in plaintext'
  test(`transport mesh across Bare, Node, Bun and Deno ${how}`, { timeout: 120000 }, async (t) => {
    const tlsDir = secure ? await certDir(t) : '-'
    const secret = secure ? 'a mesh secret of some length' : '-'
    const procs = []
    const addresses = []
    for (const runtime of RUNTIMES) {
      const proc = start(t, runtime, PEER, [String(COUNT), tlsDir, secret, ...addresses])
      const hello = await proc.json()
      t.is(hello.runtime, runtime, `${runtime} node up at ${hello.address}`)
      addresses.push(hello.address)
      procs.push({ runtime, proc, address: hello.address })
    }
    for (const { runtime, proc, address } of procs) {
      const res = await proc.json(90000)
      const others = addresses.filter((a) => a !== address).sort()
      t.ok(res.done && res.broken === null, `${runtime}: ${COUNT} envelopes from each other node, in order${res.broken ? ' — ' + res.broken : ''}`)
      t.alike(res.from, others, `${runtime}: from names the three other nodes`)
    }
  })
}
