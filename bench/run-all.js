// npm run bench:all — the benchmark on Bare, Node, Bun and Deno, one after the other.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const extra = process.argv.slice(2)
let failed = 0
for (const runtime of ['bare', 'node', 'bun', 'deno']) {
  const res = spawnSync(process.execPath, [path.join(here, 'run.js'), '--runtime', runtime, ...extra], { stdio: 'inherit' })
  if (res.status !== 0) failed++
}
process.exit(failed === 0 ? 0 : 1)
