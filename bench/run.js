// Runs the benchmark cases on one runtime (sender and receiver in separate processes on
// loopback) and prints a table and bench/results/<runtime>.json: each figure the median of
// several runs, with its ratio to the baseline measured in the same run.
//   node bench/run.js [--runtime bare|node|bun|deno] [--runs 3] [--ms 2000] [--cases a,b]
//     [--cluster-baseline <folder of another build>]  (gossip cost against that build, same run)
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import path from 'node:path'
import { onLines } from '../test/helpers/lines.js'

const require = createRequire(import.meta.url)
const { ROOT, commandFor } = require('../test/helpers/runtimes.cjs')
const WORKER = path.join(ROOT, 'bench', 'worker.js')

const opts = parseArgs(process.argv.slice(2))
const runtime = opts.runtime ?? 'node'
const runs = Number(opts.runs ?? 3)
const ms = Number(opts.ms ?? 2000)
const SIZES = (opts.sizes ?? '64,1024,65536,4194304').split(',').map(Number)
const THROUGHPUT = (opts.cases ?? 'raw,cenc,transport,protomux,naive').split(',')
const SECTIONS = (opts.sections ?? 'throughput,latency,actors,local,heartbeat,memory,cluster,sharding').split(',')

const results = { runtime, versions: versions(), runs, ms, throughput: [], latency: null, actors: null, local: null, heartbeat: null, memory: null, cluster: null, sharding: null }
console.log(`# ${runtime}: ${results.versions[runtime] ?? ''}, actor-cluster-bare ${results.versions.package}; ${runs} runs of ${ms} ms, medians`)

for (const size of SECTIONS.includes('throughput') ? SIZES : []) {
  const row = { size, cases: {} }
  // Interleave the cases run by run so drift on a shared machine hits them alike.
  const samples = Object.fromEntries(THROUGHPUT.map((c) => [c, []]))
  for (let r = 0; r < runs; r++) {
    for (const name of THROUGHPUT) {
      const sample = await pair(name, size)
      if (sample) samples[name].push(sample.got)
    }
  }
  for (const name of THROUGHPUT) {
    const s = samples[name]
    if (s.length === 0) continue
    row.cases[name] = {
      msgsPerSec: median(s.map((x) => (x.messages / x.ms) * 1000)),
      mbPerSec: median(s.map((x) => (x.messages * size) / x.ms / 1000)),
      runs: s.length
    }
  }
  const base = row.cases.raw?.msgsPerSec
  for (const c of Object.values(row.cases)) c.ratioToRaw = base ? c.msgsPerSec / base : null
  const cenc = row.cases.cenc?.msgsPerSec
  if (row.cases.transport && cenc) row.cases.transport.ratioToCenc = row.cases.transport.msgsPerSec / cenc
  results.throughput.push(row)
  printRow(row)
}

// Ping-pong round trips of 64-byte messages, raw socket and transport interleaved run by run.
if (SECTIONS.includes('latency')) {
  const got = { 'rtt-raw': [], 'rtt-transport': [] }
  for (let r = 0; r < runs; r++) {
    for (const name of Object.keys(got)) {
      const sample = await pair(name, 64)
      if (sample) got[name].push(sample.sent)
    }
  }
  const summary = (list) => ({ p50: median(list.map((x) => x.p50)), p99: median(list.map((x) => x.p99)) })
  const raw = summary(got['rtt-raw'])
  const transport = summary(got['rtt-transport'])
  results.latency = { raw, transport, p50Ratio: transport.p50 / raw.p50, p99Ratio: transport.p99 / raw.p99 }
  console.log(`\nround trip, 64 B (ms)        p50      p99`)
  console.log(`  raw socket           ${raw.p50.toFixed(3).padStart(8)} ${raw.p99.toFixed(3).padStart(8)}`)
  console.log(`  TcpTransport         ${transport.p50.toFixed(3).padStart(8)} ${transport.p99.toFixed(3).padStart(8)}   p50 ${results.latency.p50Ratio.toFixed(2)}x raw`)
}

// Through the actor layer: remote tells to one actor and remote asks, each interleaved run by run
// with the same thing on TcpTransport alone.
if (SECTIONS.includes('actors')) {
  const got = { transport: [], 'actor-tell': [], 'entity-tell': [], 'entity-tell-unsaved': [], 'rtt-transport': [], 'actor-ask': [], 'entity-ask': [] }
  for (let r = 0; r < runs; r++) {
    for (const name of Object.keys(got)) {
      const sample = await pair(name, 64)
      if (sample) got[name].push(name.startsWith('rtt') || name.endsWith('-ask') ? sample.sent : name.includes('-tell') ? { ...sample.got, sent: sample.sent, got: sample.got } : sample.got)
    }
  }
  const rate = (list) => median(list.map((x) => (x.messages / x.ms) * 1000))
  const pct = (list) => ({ p50: median(list.map((x) => x.p50)), p99: median(list.map((x) => x.p99)) })
  const a = {
    tellPerSec: rate(got['actor-tell']),
    transportPerSec: rate(got.transport),
    ask: pct(got['actor-ask']),
    transportRtt: pct(got['rtt-transport']),
    entityTellPerSec: rate(got['entity-tell']),
    entityTellUnsavedPerSec: rate(got['entity-tell-unsaved']),
    entityAsk: pct(got['entity-ask'])
  }
  a.entityTellRatio = a.entityTellPerSec / a.tellPerSec
  a.entityTellUnsavedRatio = a.entityTellUnsavedPerSec / a.tellPerSec
  // CPU per message on each side: steadier than throughput when the machine is shared.
  const cpu = (list, side) => median(list.map((x) => x[side].cpuUsPerMsg ?? 0))
  a.cpuUsPerMsg = {
    tell: { sender: cpu(got['actor-tell'], 'sent'), receiver: cpu(got['actor-tell'], 'got') },
    entityTell: { sender: cpu(got['entity-tell'], 'sent'), receiver: cpu(got['entity-tell'], 'got') },
    entityTellUnsaved: { sender: cpu(got['entity-tell-unsaved'], 'sent'), receiver: cpu(got['entity-tell-unsaved'], 'got') }
  }
  a.entityAskP50Ratio = a.entityAsk.p50 / a.ask.p50
  a.tellRatio = a.tellPerSec / a.transportPerSec
  a.askP50Ratio = a.ask.p50 / a.transportRtt.p50
  a.askP99Ratio = a.ask.p99 / a.transportRtt.p99
  results.actors = a
  const fmt = (n) => (n >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : (n / 1e3).toFixed(1) + 'k')
  console.log(`\nactors, 64 B: remote tell ${fmt(a.tellPerSec)}/s (${a.tellRatio.toFixed(2)} of TcpTransport's ${fmt(a.transportPerSec)}/s)`)
  console.log(`  sharded entity tell ${fmt(a.entityTellPerSec)}/s (${a.entityTellRatio.toFixed(2)} of remote tell); entity ask p50 ${a.entityAsk.p50.toFixed(3)} ms, p99 ${a.entityAsk.p99.toFixed(3)} ms (p50 ${a.entityAskP50Ratio.toFixed(2)}x remote ask)`)
  const c = a.cpuUsPerMsg
  console.log(`  without message storage ${fmt(a.entityTellUnsavedPerSec)}/s (${a.entityTellUnsavedRatio.toFixed(2)} of remote tell)`)
  console.log(`  CPU per message, sender/receiver (µs): remote tell ${c.tell.sender.toFixed(2)}/${c.tell.receiver.toFixed(2)}, entity tell ${c.entityTell.sender.toFixed(2)}/${c.entityTell.receiver.toFixed(2)}, unsaved ${c.entityTellUnsaved.sender.toFixed(2)}/${c.entityTellUnsaved.receiver.toFixed(2)}`)
  console.log(`  remote ask p50 ${a.ask.p50.toFixed(3)} ms, p99 ${a.ask.p99.toFixed(3)} ms (transport round trip p50 ${a.transportRtt.p50.toFixed(3)}, p99 ${a.transportRtt.p99.toFixed(3)}: ${a.askP50Ratio.toFixed(2)}x, ${a.askP99Ratio.toFixed(2)}x)`)
}

// Local tells and asks (one system, one process) against an array drained in a microtask.
if (SECTIONS.includes('local')) {
  const [cmd, argv] = commandFor(runtime, path.join(ROOT, 'bench', 'local.js'), [String(runs), String(ms)])
  const res = await start(runtime, [], cmd, argv).next(runs * ms * 6 + 30_000)
  if (res && !res.error) {
    const l = (results.local = res)
    const fmt = (n) => (n >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : (n / 1e3).toFixed(1) + 'k')
    console.log(`\nlocal tell ${fmt(l.tellPerSec)}/s (${l.tellRatio.toFixed(2)} of an array drained in a microtask, ${fmt(l.tellBaselinePerSec)}/s)`)
    console.log(`  local ask p50 ${l.askP50Us.toFixed(1)} µs, ${fmt(l.askPerSec)}/s (${l.askRatio.toFixed(2)} of the baseline's ${fmt(l.askBaselinePerSec)}/s); askCallSites off: ${l.askNoCallSitesP50Us.toFixed(1)} µs, ${l.askNoCallSitesRatio.toFixed(2)}`)
  } else console.log(`  local: ${res?.error}`)
}

// Heartbeat round trips while the same connection carries 16 MiB envelopes flat out.
if (SECTIONS.includes('heartbeat')) {
  const list = []
  for (let r = 0; r < runs; r++) {
    const sample = await pair('heartbeat-under-load', 0)
    if (sample) list.push(sample.sent)
  }
  results.heartbeat = {
    p50: median(list.map((x) => x.p50)),
    p99: median(list.map((x) => x.p99)),
    bulkMBps: median(list.map((x) => x.bulkMBps))
  }
  const h = results.heartbeat
  console.log(`\nheartbeat round trip under 16 MiB envelopes flat out: p50 ${h.p50.toFixed(1)} ms, p99 ${h.p99.toFixed(1)} ms, bulk ${h.bulkMBps.toFixed(0)} MB/s`)
}

if (SECTIONS.includes('memory')) {
  results.memory = await single(path.join(ROOT, 'bench', 'memory.js'))
  const m = results.memory
  if (m && !m.error) {
    console.log(`\nmemory per idle connection: raw ${m.rawPerConnectionKiB.toFixed(1)} KiB, TcpTransport ${m.transportPerConnectionKiB.toFixed(1)} KiB (${m.ratio.toFixed(2)}x); per 1,000 queued 64-byte envelopes ${m.per1000QueuedKiB.toFixed(0)} KiB`)
  }
}

// Convergence, steady-state gossip bytes and failure detection (in one process, on a bus).
if (SECTIONS.includes('cluster')) {
  const clusterArgs = opts['cluster-baseline'] === undefined ? [] : ['5,15,30', path.resolve(opts['cluster-baseline'])]
  results.cluster = await single(path.join(ROOT, 'bench', 'cluster.js'), 600_000, clusterArgs)
  const sign = results.cluster?.signing
  if (sign) console.log(`ed25519: sign ${sign.signUs.toFixed(1)} us, verify ${sign.verifyUs.toFixed(1)} us`)
  const x = (a, b, k) => (b && b[k] > 0 ? ` (${(a[k] / b[k]).toFixed(2)}x)` : '')
  for (const c of results.cluster?.sizes ?? []) {
    const b = c.baseline
    console.log(
      `cluster of ${c.nodes}: converged in ${c.convergeMs} ms${x(c, b, 'convergeMs')}; gossip per node per round while forming ` +
        `${c.formingBytesPerNodePerRound.toFixed(0)} B${x(c, b, 'formingBytesPerNodePerRound')}, ${c.formingCpuUsPerNodePerRound.toFixed(0)} us CPU${x(c, b, 'formingCpuUsPerNodePerRound')}; ` +
        `converged ${c.bytesPerNodePerRound.toFixed(0)} B${x(c, b, 'bytesPerNodePerRound')}, ${c.messagesPerNodePerRound.toFixed(2)} messages, ` +
        `${c.cpuUsPerNodePerRound.toFixed(0)} us CPU${x(c, b, 'cpuUsPerNodePerRound')}; summaries only ${c.summariesOnly.bytesPerNodePerRound.toFixed(0)} B${x(c.summariesOnly, b, 'bytesPerNodePerRound')}` +
        (b ? ' (ratios to the baseline build)' : '')
    )
  }
  const d = results.cluster?.detection
  if (d) console.log(`killed node, default timings: unreachable after ${(d.unreachableMs / 1000).toFixed(1)} s, removed after ${(d.removedMs / 1000).toFixed(1)} s`)
}

// A shard handoff: how long the moved entities are out of reach.
if (SECTIONS.includes('sharding')) {
  const list = []
  for (let r = 0; r < runs; r++) {
    const res = await single(path.join(ROOT, 'bench', 'sharding-handoff.js'), 90_000)
    if (res && !res.error) list.push(res)
  }
  if (list.length > 0) {
    const h = (results.sharding = {
      moved: median(list.map((x) => x.moved)),
      askP50BeforeMs: median(list.map((x) => x.askP50BeforeMs)),
      pauseP50Ms: median(list.map((x) => x.pauseP50Ms)),
      pauseMaxMs: median(list.map((x) => x.pauseMaxMs)),
      unmovedWorstMs: median(list.map((x) => x.unmovedWorstMs)),
      rebalanceMs: median(list.map((x) => x.rebalanceMs))
    })
    console.log(`\nshard handoff (${h.moved} of 40 entities moved): pause p50 ${h.pauseP50Ms.toFixed(0)} ms, max ${h.pauseMaxMs.toFixed(0)} ms; unmoved entities' longest ask ${h.unmovedWorstMs.toFixed(0)} ms; ask p50 before ${h.askP50BeforeMs.toFixed(2)} ms; rebalanced in ${h.rebalanceMs} ms`)
  }
}

fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true })
const file = path.join(ROOT, 'bench', 'results', `${runtime}.json`)
fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
console.log(`\nwritten ${path.relative(ROOT, file)}`)

async function pair(name, size) {
  const recv = start(runtime, ['recv', name])
  const hello = await recv.next()
  if (hello.error) {
    console.log(`  ${name}: ${hello.error}`)
    recv.kill()
    return null
  }
  const send = start(runtime, ['send', name, String(hello.port), String(size), String(ms)])
  const [sent, got] = await Promise.all([send.next(), recv.next()])
  send.kill()
  recv.kill()
  if (sent.error || got.error) {
    console.log(`  ${name}: ${sent.error ?? got.error}`)
    return null
  }
  return { sent, got }
}

// Runs a single-process script on the runtime and returns the JSON line it prints.
async function single(script, waitMs = 60_000, extraArgs = []) {
  const [cmd, argv] = commandFor(runtime, script, extraArgs)
  const args = runtime === 'node' ? ['--expose-gc', ...argv] : argv
  const child = start(runtime, [], cmd, args)
  const res = await child.next(waitMs)
  child.kill()
  return res
}

function start(rt, args, command = null, commandArgs = null) {
  const [cmd, argv] = command ? [command, commandArgs] : commandFor(rt, WORKER, args)
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
  const lines = []
  const waiters = []
  onLines(child.stdout, (line) => {
    lines.push(line)
    waiters.splice(0).forEach((w) => w())
  })
  child.on('exit', () => waiters.splice(0).forEach((w) => w()))
  return {
    async next(waitMs = 60_000) {
      const deadline = Date.now() + ms + waitMs
      while (lines.length === 0) {
        if (child.exitCode !== null || Date.now() > deadline) return { error: `no result (exit ${child.exitCode})` }
        await new Promise((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 200)
        })
      }
      try {
        return JSON.parse(lines.shift())
      } catch (err) {
        return { error: String(err) }
      }
    },
    kill() {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }
}

function printRow(row) {
  const fmt = (n) => (n >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : n >= 1e3 ? (n / 1e3).toFixed(1) + 'k' : n.toFixed(0))
  console.log(`\n${row.size} B bodies`)
  console.log('  case         msgs/s      MB/s   vs raw')
  for (const [name, c] of Object.entries(row.cases)) {
    const ratio = c.ratioToRaw === null ? '' : c.ratioToRaw.toFixed(2)
    console.log(`  ${name.padEnd(10)} ${fmt(c.msgsPerSec).padStart(8)} ${c.mbPerSec.toFixed(1).padStart(9)}   ${ratio}`)
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function versions() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
  const v = (name) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version
    } catch {
      return null
    }
  }
  return { package: pkg.version, node: process.version, bare: v('bare-runtime-linux-x64'), bun: v('bun'), deno: v('deno') }
}

function parseArgs(argv) {
  const out = {}
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1]
  return out
}
