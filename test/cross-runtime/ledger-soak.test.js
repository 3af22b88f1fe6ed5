// The ledger soak: three processes (the receiver on Bare, the senders on Node and Bun). Two
// senders tell one receiver flat out for a bounded time; the receiver is killed (-9) and
// restarted twice, and in its last run one cut of every connection. At the end, per sender,
// sent = delivered + counted drops exactly, the only drops are the restarts', and the last run saw
// every message after its start once, in order, across the cut.
import test from 'brittle'
import { NodeAddress, TcpTransport } from 'actor-cluster-bare'
import { RUNTIMES, start } from './helpers.js'

const SCRIPT = 'test/cross-runtime/ledger-peer.js'
const RUN_MS = 9000
// Three runtimes in the one soak.
const RECEIVER = 'bare'
const SENDERS = ['node', 'bun']
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

test('ledger soak: kills, restarts and a cut; the counts close and the cut loses nothing', { timeout: 90_000 }, async (t) => {
  let receiver = start(t, RECEIVER, SCRIPT, ['receive', '0', '0'])
  const { port } = await receiver.json()
  const senders = SENDERS.map((runtime) => start(t, runtime, SCRIPT, ['send', String(port), String(RUN_MS)]))
  for (let i = 0; i < 2; i++) {
    await sleep(2000)
    receiver.child.kill('SIGKILL')
    await receiver.exited
    receiver = start(t, RECEIVER, SCRIPT, ['receive', String(port), i === 1 ? '20000' : '0'])
    await receiver.json()
  }
  const results = []
  for (const s of senders) {
    // Skip to the sender's one line of output.
    results.push(await s.json(40_000))
  }
  // The receiver reports every 200 ms: read on for a while past the senders' end, keep the last.
  let report = null
  const readUntil = Date.now() + 1500
  while (Date.now() < readUntil) report = await receiver.json(2000)
  receiver.child.kill('SIGKILL')
  t.ok(report !== null && report.cut, 'the last run cut its connections once')
  t.ok(results.some((r) => r.reconnects >= 3), "a sender's connection to the last run was cut and came back")
  for (const r of results) {
    const d = r.delivery
    const dropped = Object.values(d.dropped).reduce((x, y) => x + y, 0)
    t.comment(`${r.self}: sent ${d.sent}, delivered ${d.delivered}, dropped ${JSON.stringify(d.dropped)}, duplicates discarded ${d.duplicates}, reconnects ${r.reconnects}`)
    t.is(d.pending, 0, 'nothing left pending')
    t.is(d.sent, r.last + 1, 'every message counted as sent')
    t.is(d.sent, d.delivered + dropped, 'sent = delivered + dropped, exactly')
    t.ok(Object.keys(d.dropped).every((k) => k === 'peer-restarted'), `drops only at the restarts (${Object.keys(d.dropped)})`)
    const seen = report.per[r.self]
    t.ok(seen !== undefined, 'the last run heard from it')
    t.is(seen.gaps, 0, 'no gap in the last run, across the cut')
    t.is(seen.dups, 0, 'nothing twice')
    t.is(seen.last, r.last, 'the last message arrived')
    t.is(seen.count, seen.last - seen.first + 1, 'every message from its first on')
  }
})

// A receiver on each runtime killed -9 in the middle of a 16 MiB envelope and started again:
// what the dead run never acknowledged is counted peer-restarted, everything else arrives at the
// new run, and so does what is sent after.
for (const runtime of RUNTIMES) {
  test(`ledger: ${runtime} receiver killed -9 during a 16 MiB envelope and restarted`, { timeout: 60_000 }, async (t) => {
    let receiver = start(t, runtime, SCRIPT, ['receive', '0', '0', String(4 << 20)])
    const { port } = await receiver.json()
    const node = new TcpTransport({ self: 'actor-cluster://soak@127.0.0.1:0', maxQueuedBytes: 64 << 20, backoffMaxMs: 200, maxDialAttempts: 1000 })
    await node.start()
    t.teardown(() => node.shutdown())
    const to = NodeAddress.parse(`actor-cluster://soak@127.0.0.1:${port}`)
    const small = (i) => ({ kind: 'envelope', to: 'user/sink', from: null, manifest: String(i), body: new Uint8Array(64) })
    for (let i = 0; i < 500; i++) node.send(to, small(i))
    node.send(to, { kind: 'envelope', to: 'user/sink', from: null, manifest: 'big', body: new Uint8Array((16 << 20) - 1024).fill(1) })
    for (let i = 500; i < 700; i++) node.send(to, small(i))
    // The receiver's periodic reports can come before the big one reaches it: read past them.
    let held = null
    const heldBy = Date.now() + 30_000
    while (held === null && Date.now() < heldBy) {
      const line = await receiver.json(30_000)
      if (line.holding !== undefined) held = line
    }
    t.ok(held !== null && held.holding > 0, 'held part-way through the big one')
    // A held receiver acknowledges nothing more: what it acknowledged so far is all the dead run did.
    const ackedByDead = node.stats(to).delivery.delivered
    receiver.child.kill('SIGKILL')
    await receiver.exited
    receiver = start(t, runtime, SCRIPT, ['receive', String(port), '0'])
    await receiver.json()
    for (let i = 700; i < 710; i++) node.send(to, small(i))
    const settleBy = Date.now() + 20_000
    while (Date.now() < settleBy && node.stats(to).delivery.pending > 0) await sleep(50)
    const d = node.stats(to).delivery
    const dropped = Object.values(d.dropped).reduce((x, y) => x + y, 0)
    t.comment(`sent ${d.sent}, delivered ${d.delivered} (${ackedByDead} by the killed run), dropped ${JSON.stringify(d.dropped)}`)
    t.is(d.pending, 0, 'nothing left pending')
    t.is(d.sent, 711)
    t.is(d.sent, d.delivered + dropped, 'sent = delivered + dropped, exactly')
    t.ok(Object.keys(d.dropped).every((k) => k === 'peer-restarted'), 'drops only for the restart')
    let report = null
    const readUntil = Date.now() + 1000
    while (Date.now() < readUntil) report = await receiver.json(2000)
    const seen = report.per[node.self.toString()]
    t.is(seen.count + seen.big, d.delivered - ackedByDead, 'the new run got the rest of what was acknowledged')
    t.is(seen.last, 709, 'what was sent after the restart arrived')
    t.is(seen.dups, 0, 'nothing twice')
  })
}
