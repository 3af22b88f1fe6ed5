// What users get: the packed tarball, installed into an empty folder, loads with `import` and
// `require` on Bare, Node, Bun and Deno, and picks the right backend on each; on a Bare older
// than the dependencies need, the load fails with a code and the command that fixes it.
import test from 'brittle'
import fs from 'node:fs'
import path from 'node:path'
import { RUNTIMES, packedApp, start } from './helpers.js'

const CHECK_ESM = `import { getTcpBackend, NodeAddress, ClusterError } from 'actor-cluster-bare'
const a = NodeAddress.parse('actor-cluster://app@127.0.0.1:2552')
console.log(JSON.stringify({ how: 'import', backend: getTcpBackend().name, address: String(a), error: typeof ClusterError }))
`
const CHECK_CJS = `const { getTcpBackend, NodeAddress } = require('actor-cluster-bare')
const a = NodeAddress.parse('actor-ts://app@127.0.0.1:2552')
console.log(JSON.stringify({ how: 'require', backend: getTcpBackend().name, address: String(a) }))
`

// Bare is not extensible, but its version is a configurable accessor on its prototype, so a
// script can pretend to be an old Bare before the package loads for the first time.
const CHECK_OLD_BARE = `Object.defineProperty(Object.getPrototypeOf(Bare), 'version', { get: () => 'v1.31.0' })
try {
  await import('actor-cluster-bare')
  console.log(JSON.stringify({ loaded: true }))
} catch (err) {
  console.log(JSON.stringify({ code: err.code, message: err.message }))
}
`

test('npm pack, install into an empty folder, import and require on every runtime', { timeout: 240000 }, async (t) => {
  const app = packedApp(t)
  t.ok(fs.existsSync(path.join(app, 'node_modules', 'actor-cluster-bare', 'dist', 'index.js')), 'installed from the tarball')
  fs.writeFileSync(path.join(app, 'check.mjs'), CHECK_ESM)
  fs.writeFileSync(path.join(app, 'check.cjs'), CHECK_CJS)
  fs.writeFileSync(path.join(app, 'old-bare.mjs'), CHECK_OLD_BARE)

  for (const runtime of RUNTIMES) {
    for (const file of ['check.mjs', 'check.cjs']) {
      const proc = start(t, runtime, path.join(app, file), [], { cwd: app })
      const res = await proc.json(30000)
      t.is(res.backend, runtime, `${runtime} ${res.how}: loads and picks the ${runtime} backend`)
      t.ok(res.address.endsWith('@127.0.0.1:2552'), `${runtime} ${res.how}: works`)
    }
  }

  const old = await start(t, 'bare', path.join(app, 'old-bare.mjs'), [], { cwd: app }).json(30000)
  t.is(old.code, 'UNSUPPORTED_RUNTIME', 'Bare 1.31: the load fails with a code')
  t.ok(/needs Bare 1\.32\.0 or newer/.test(old.message), 'Bare 1.31: the message says which Bare')
  t.ok(/npm i -g bare-runtime-\w+-\w+@1\.33\.4/.test(old.message), 'Bare 1.31: the message names the fix')
})
