#!/usr/bin/env node
// A live view of a running cluster from any machine that can reach one of its nodes:
//
//   npx actor-cluster-bare status --seed 10.0.0.5:2552 [--cluster my-app] [--secret ...]
//
// Joins as a client-only node (nobody waits for it or routes to it), draws the members, their
// status, the leader and this node's round-trip time and traffic to each, refreshing in place,
// and leaves on Ctrl-C. Runs on Node, Bare (`bare bin/actor-cluster-bare.js status ...`), Bun, Deno.
import { ActorSystem, Cluster, leaveOnSignals, renderStatus, createLogger, NodeAddress } from 'actor-cluster-bare'

const USAGE = `usage: actor-cluster-bare status --seed host:port [--seed ...] [options]

  --seed host:port      a node of the cluster (or its full address, actor-cluster://name@host:port)
  --cluster name        the cluster's name (default: the seed's, from its full address or from
                        what it answers)
  --secret s            the cluster secret (default: $ACTOR_CLUSTER_SECRET)
  --interval ms         how often to redraw (default 1000)
  --width n             columns to draw in (default: the terminal's, else 100)
  --once                draw once when joined, then leave (for scripts)
  --timeout ms          give up joining after this long (default 30000)
  --host address        this machine's address as the cluster reaches it (default 127.0.0.1;
                        set it when the cluster runs on other machines)`

const g = globalThis
const argv = g.Bare ? g.Bare.argv.slice(2) : g.Deno ? g.Deno.args.slice() : g.process.argv.slice(2)
const env = (name) => (g.Bare ? undefined : g.Deno ? g.Deno.env.get(name) : g.process.env[name])

main(argv).catch((err) => {
  console.error(err.code ? `${err.code}: ${err.message.replace(err.code + ': ', '')}` : err.message)
  exit(1)
})

async function main(list) {
  const opts = parse(list)
  if (opts === null) {
    console.log(USAGE)
    return
  }
  // Misconfiguration still speaks (another name, a secret missing), below the view.
  const warnings = []
  const log = createLogger('warn', (r) => {
    warnings.push(r.msg)
    if (warnings.length > 5) warnings.shift()
  })
  const deadline = Date.now() + opts.timeoutMs
  let { system, cluster, learned } = await join(opts, opts.cluster ?? 'app', log, opts.cluster === null)
  if (learned !== null) {
    // The seed said which cluster it is in: join that one.
    await system.terminate()
    warnings.length = 0
    ;({ system, cluster } = await join(opts, learned, log, false))
  }
  leaveOnSignals(system)
  try {
    await cluster.ready({ timeoutMs: Math.max(0, deadline - Date.now()) })
  } catch (err) {
    await system.terminate()
    for (const w of warnings) console.error(w)
    throw err
  }
  const draw = () => {
    const lines = renderStatus(cluster.status(), { width: opts.width ?? columns() ?? 100, title: `actor-cluster-bare status: cluster ${JSON.stringify(system.name)}` })
    for (const w of warnings) lines.push('! ' + w)
    return lines.join('\n')
  }
  if (opts.once) {
    // A settled view first (nobody still joining) with every member's round-trip time: at most 5 s.
    const until = Date.now() + 5000
    const measured = () => cluster.status().members.every((m) => m.self || (m.status !== 'joining' && (m.status !== 'up' || m.peer?.rttMs != null)))
    while (!measured() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50))
    console.log(draw())
    await system.terminate()
    return
  }
  // Home, then clear to the end: each frame replaces the last.
  for (;;) {
    console.log('\x1b[H\x1b[J' + draw() + '\n\n(Ctrl-C leaves)')
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs))
  }
}

// Joins as a client. With `learn`, waits (a few seconds at most) to see whether the seed refuses
// the name for another: its refusal carries its cluster's name, which comes back as `learned`.
async function join(opts, name, log, learn) {
  const system = ActorSystem.create(name, { logLevel: 'silent' })
  const cluster = await Cluster.join(system, { clientOnly: true, host: opts.host, seeds: opts.seeds, secret: opts.secret, log })
  if (!learn) return { system, cluster, learned: null }
  const learned = await new Promise((resolve) => {
    const timer = setTimeout(() => done(null), 5000)
    const onerror = (err) => {
      const m = err.code === 'CLUSTER_MISMATCH' ? /is in cluster "([^"]+)"/.exec(err.message) : null
      if (m !== null) done(m[1])
    }
    const done = (value) => {
      clearTimeout(timer)
      cluster.transport.off('dial-failed', ondial)
      resolve(value)
    }
    const ondial = (peer, err) => onerror(err)
    cluster.transport.on('dial-failed', ondial)
    cluster.ready({ timeoutMs: 5000 }).then(() => done(null), () => done(null))
  })
  return { system, cluster, learned }
}

function parse(list) {
  if (list[0] !== 'status') return null
  const out = { seeds: [], cluster: null, secret: env('ACTOR_CLUSTER_SECRET') ?? null, intervalMs: 1000, width: null, once: false, timeoutMs: 30000, host: '127.0.0.1' }
  for (let i = 1; i < list.length; i++) {
    const key = list[i]
    const value = () => {
      if (i + 1 >= list.length) throw new Error(`${key} needs a value\n\n${USAGE}`)
      return list[++i]
    }
    if (key === '--seed') out.seeds.push(value())
    else if (key === '--cluster') out.cluster = value()
    else if (key === '--secret') out.secret = value()
    else if (key === '--interval') out.intervalMs = Number(value())
    else if (key === '--width') out.width = Number(value())
    else if (key === '--timeout') out.timeoutMs = Number(value())
    else if (key === '--host') out.host = value()
    else if (key === '--once') out.once = true
    else throw new Error(`unknown option ${key}\n\n${USAGE}`)
  }
  if (out.seeds.length === 0) throw new Error(`--seed is needed\n\n${USAGE}`)
  const full = out.seeds.find((s) => s.includes('://'))
  // Without a name the seed's refusal tells it (see join).
  if (out.cluster === null && full !== undefined) out.cluster = NodeAddress.parse(full).system
  return out
}

function columns() {
  const c = g.process?.stdout?.columns
  return typeof c === 'number' && c > 0 ? c : null
}

function exit(code) {
  if (g.Bare) g.Bare.exit(code)
  else if (g.Deno) g.Deno.exit(code)
  else g.process.exit(code)
}
