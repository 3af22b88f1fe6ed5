// What TypeScript users get from the packed tarball: a consumer with strict, nodenext and
// skipLibCheck false compiles, ask's reply is typed, internals are not in the declarations,
// declaration maps point at shipped sources, and every public option, event and method of the
// main classes carries a doc comment (options with a default say it with @default).
import test from 'brittle'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { undocumented } from '../helpers/doc-check.js'
import { ROOT, packedApp } from './helpers.js'

const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    skipLibCheck: false,
    noEmit: true,
    types: []
  },
  include: ['main.ts']
}

const MAIN = `import { ActorSystem, Cluster, ClusterError, type ActorRef, type Member } from 'actor-cluster-bare'
import { ClusterTestKit } from 'actor-cluster-bare/testkit'

const system = ActorSystem.create('app', { logLevel: 'warn' })
const greeter: ActorRef<string, string> = system.spawn<string, string>('greeter', (name, ctx) => {
  ctx.reply('hello ' + name)
})
const cluster = await Cluster.join(system, { host: '127.0.0.1', port: 0, seeds: [] })
cluster.on('member-up', (member: Member) => console.log(member.address.toString()))

const reply: string = await greeter.ask('ada', { timeoutMs: 1000 })
// @ts-expect-error the reply is a string
const wrong: number = await greeter.ask('ada')
const anything: unknown = await system.ref('/user/greeter').ask('ada')
const chosen: boolean = await system.ref('/user/greeter').ask<boolean>('ada')

// @ts-expect-error internals are not in the declarations
system._attachCluster(cluster, {})
// @ts-expect-error internals are not in the declarations
cluster._start()
// @ts-expect-error internals are not in the declarations
cluster.onenvelope = null
// @ts-expect-error internals are not in the declarations
system.spawnChild

const err: unknown = new Error('x')
if (err instanceof ClusterError) console.log(err.code)
console.log(reply, wrong, anything, chosen, typeof ClusterTestKit)
await system.terminate()
`

test('a strict TypeScript consumer compiles against the packed tarball', { timeout: 240000 }, async (t) => {
  const app = packedApp(t, { type: 'module' })
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG))
  fs.writeFileSync(path.join(app, 'main.ts'), MAIN)

  let out = ''
  try {
    execFileSync(process.execPath, [TSC, '-p', app], { cwd: app, encoding: 'utf8' })
  } catch (err) {
    out = String(err.stdout) + String(err.stderr)
  }
  t.is(out, '', 'tsc with strict, nodenext and skipLibCheck false reports nothing')

  const pkgDir = path.join(app, 'node_modules', 'actor-cluster-bare')
  const maps = listFiles(path.join(pkgDir, 'dist')).filter((f) => f.endsWith('.d.ts.map'))
  t.ok(maps.length > 10, 'declaration maps are shipped')
  const unmapped = []
  for (const map of maps) {
    for (const src of JSON.parse(fs.readFileSync(map, 'utf8')).sources) {
      if (!fs.existsSync(path.resolve(path.dirname(map), src))) unmapped.push(path.relative(pkgDir, map) + ' -> ' + src)
    }
  }
  t.alike(unmapped, [], 'every declaration map points at a source file in the tarball')

  const missing = undocumented(pkgDir)
  t.alike(missing, [], 'every public option, event, class and class member has a doc comment')
})

function listFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]))
}
