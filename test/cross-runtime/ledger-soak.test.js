// The ledger soak: three processes. Two senders tell one receiver flat out for a bounded time;
// the receiver is killed (-9) and restarted twice, and in its last run one cut of every
// connection. At the end, per sender, sent = delivered + counted drops exactly, the only drops
// are the restarts', and the last run saw every message after its start once, in order, across
// the cut.
import test from 'brittle'
import { start } from './helpers.js'

const SCRIPT = 'test/cross-runtime/ledger-peer.js'
const RUN_MS = 9000
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

test('ledger soak: kills, restarts and a cut; the counts close and the cut loses nothing', { timeout: 90_000 }, async (t) => {
  let receiver = start(t, 'node', SCRIPT, ['receive', '0', '0'])
  const { port } = await receiver.json()
  const senders = [start(t, 'node', SCRIPT, ['send', String(port), String(RUN_MS)]), start(t, 'node', SCRIPT, ['send', String(port), String(RUN_MS)])]
  for (let i = 0; i < 2; i++) {
    await sleep(2000)
    receiver.child.kill('SIGKILL')
    await receiver.exited
    receiver = start(t, 'node', SCRIPT, ['receive', String(port), i === 1 ? '20000' : '0'])
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
