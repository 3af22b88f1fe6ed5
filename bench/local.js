// Local tells and asks (sender and actor in one actor system, one process) against the least a
// queue of messages can cost in JavaScript: an array drained in a microtask, the shape every
// mailbox has underneath. Runs are interleaved case by case; prints one JSON line of medians.
//   node bench/local.js [runs] [ms]
import b4a from 'b4a'
import { ActorSystem, monotonicNow } from 'actor-cluster-bare'

const BATCH = 1000
const runs = Number(arg(0) ?? 3)
const ms = Number(arg(1) ?? 1500)
const body = b4a.alloc(64, 1)

const CASES = {
  // Tells: BATCH messages at a time, then wait until the receiver has counted them all.
  'tell-baseline': () => tells(baselineSink()),
  'tell-actor': () => tells(actorSink({})),
  // Asks one after another: each waits for its reply.
  'ask-baseline': () => asks(baselineEcho()),
  'ask-actor': () => asks(actorEcho({})),
  'ask-actor-no-call-sites': () => asks(actorEcho({ askCallSites: false }))
}

const samples = Object.fromEntries(Object.keys(CASES).map((name) => [name, []]))
for (let r = 0; r < runs; r++) {
  for (const [name, run] of Object.entries(CASES)) samples[name].push(await run())
}
const rate = (name) => median(samples[name].map((s) => s.perSec))
const us = (name) => median(samples[name].map((s) => s.p50Us))
const out = {
  tellPerSec: rate('tell-actor'),
  tellBaselinePerSec: rate('tell-baseline'),
  askPerSec: rate('ask-actor'),
  askNoCallSitesPerSec: rate('ask-actor-no-call-sites'),
  askBaselinePerSec: rate('ask-baseline'),
  askP50Us: us('ask-actor'),
  askNoCallSitesP50Us: us('ask-actor-no-call-sites'),
  askBaselineP50Us: us('ask-baseline')
}
out.tellRatio = out.tellPerSec / out.tellBaselinePerSec
out.askRatio = out.askPerSec / out.askBaselinePerSec
out.askNoCallSitesRatio = out.askNoCallSitesPerSec / out.askBaselinePerSec
console.log(JSON.stringify(out))
if (typeof globalThis.Bare !== 'undefined') globalThis.Bare.exit(0)

async function tells(sink) {
  let sent = 0
  const start = monotonicNow()
  const until = start + ms
  while (monotonicNow() < until) {
    const done = sink.expect(sent + BATCH)
    for (let i = 0; i < BATCH; i++) sink.tell(body)
    sent += BATCH
    await done
  }
  const elapsed = monotonicNow() - start
  await sink.close()
  return { perSec: (sent / elapsed) * 1000 }
}

async function asks(echo) {
  const times = []
  const start = monotonicNow()
  const until = start + ms
  while (monotonicNow() < until) {
    for (let i = 0; i < 100; i++) {
      const t0 = monotonicNow()
      await echo.ask(body)
      times.push(monotonicNow() - t0)
    }
  }
  const elapsed = monotonicNow() - start
  await echo.close()
  times.sort((a, b) => a - b)
  return { perSec: (times.length / elapsed) * 1000, p50Us: times[times.length >> 1] * 1000 }
}

// The baseline: an array of messages and one microtask that drains it, calling the handler.
function microtaskQueue(handler) {
  let queue = []
  let scheduled = false
  const drain = () => {
    scheduled = false
    const batch = queue
    queue = []
    for (let i = 0; i < batch.length; i++) handler(batch[i])
  }
  return (msg) => {
    queue.push(msg)
    if (!scheduled) {
      scheduled = true
      queueMicrotask(drain)
    }
  }
}

function counter() {
  let count = 0
  let target = 0
  let resolve = null
  return {
    onmessage() {
      if (++count === target) resolve()
    },
    expect(n) {
      target = n
      return new Promise((r) => {
        resolve = r
      })
    }
  }
}

function baselineSink() {
  const c = counter()
  const tell = microtaskQueue(() => c.onmessage())
  return { tell, expect: c.expect, close: async () => {} }
}

function actorSink(opts) {
  const system = ActorSystem.create('local', { logLevel: 'error', ...opts })
  const c = counter()
  const ref = system.spawn('sink', () => c.onmessage(), { mailbox: { capacity: BATCH * 2 } })
  return { tell: (msg) => ref.tell(msg), expect: c.expect, close: () => system.terminate() }
}

function baselineEcho() {
  const send = microtaskQueue((m) => m.resolve(m.msg))
  return { ask: (msg) => new Promise((resolve) => send({ msg, resolve })), close: async () => {} }
}

function actorEcho(opts) {
  const system = ActorSystem.create('local', { logLevel: 'error', ...opts })
  const ref = system.spawn('echo', (msg, ctx) => ctx.reply(msg))
  return { ask: (msg) => ref.ask(msg, { timeoutMs: 10_000 }), close: () => system.terminate() }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function arg(i) {
  const argv = globalThis.Bare?.argv ?? globalThis.Deno?.args ?? process.argv
  const rest = globalThis.Deno ? argv : argv.slice(2)
  return rest[i]
}
