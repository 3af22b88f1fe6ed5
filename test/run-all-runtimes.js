// Runs test/all.js on Bare, Node, Bun and Deno, then the tests whose processes span runtimes.
// Exits non-zero if any run fails.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(import.meta.url)
const { ROOT, RUNTIMES, commandFor } = require('./helpers/runtimes.cjs')

const only = process.argv.slice(2)
const runtimes = only.length ? RUNTIMES.filter((r) => only.includes(r)) : RUNTIMES
const RUN_TIMEOUT_MS = 15 * 60 * 1000

const results = []
for (const runtime of runtimes) results.push(run(runtime, path.join(ROOT, 'test', 'all.js')))
if (!only.length || only.includes('cross')) {
  results.push(run('node', path.join(ROOT, 'test', 'cross-runtime', 'all.js'), 'cross-runtime'))
}

let passed = 0
let failed = 0
for (const r of results) {
  console.log(`${r.ok ? 'ok    ' : 'FAILED'} ${r.label} (${(r.ms / 1000).toFixed(1)} s)`)
  if (r.ok) passed++
  else failed++
}
console.log(`runs: ${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)

function run(runtime, script, label = runtime) {
  const [cmd, args] = commandFor(runtime, script)
  console.log(`\n# ${label}: ${path.basename(cmd)} ${args.join(' ')}`)
  const start = Date.now()
  const res = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' })
  return { label, ok: res.status === 0, ms: Date.now() - start }
}
