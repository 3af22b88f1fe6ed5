// Starting and ending child processes on the four runtimes. Each child is started from its
// runtime's binary and killed in teardown, so nothing outlives a test.
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { makeCerts } from '../helpers/certs.js'
import { onLines } from '../helpers/lines.js'

const require = createRequire(import.meta.url)
export const { ROOT, RUNTIMES, commandFor } = require('../helpers/runtimes.cjs')

export function start(t, runtime, script, args = [], opts = {}) {
  const [cmd, argv] = commandFor(runtime, script, args)
  const child = spawn(cmd, argv, { cwd: opts.cwd || ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  const lines = []
  const waiters = []
  onLines(child.stdout, (line) => {
    lines.push(line)
    for (const w of waiters.splice(0)) w()
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return {
    child,
    exited,
    get stderr() {
      return stderr
    },
    // The next stdout line parsed as JSON, waiting at most `ms`.
    async json(ms = 20000) {
      const deadline = Date.now() + ms
      while (lines.length === 0) {
        if (Date.now() > deadline) throw new Error(`${runtime}: no output in ${ms} ms; stderr: ${stderr}`)
        if (child.exitCode !== null) throw new Error(`${runtime}: exited ${child.exitCode}; stderr: ${stderr}`)
        await new Promise((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 100)
        })
      }
      return JSON.parse(lines.shift())
    }
  }
}

// A folder with ca.pem, cert.pem and key.pem for child processes, removed in teardown.
export async function certDir(t) {
  const certs = await makeCerts()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acb-tls-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.writeFileSync(path.join(dir, 'ca.pem'), certs.ca)
  fs.writeFileSync(path.join(dir, 'cert.pem'), certs.cert)
  fs.writeFileSync(path.join(dir, 'key.pem'), certs.key)
  return dir
}

// The package as users get it: `npm pack` (which builds), then installed from the tarball into an
// empty folder with its own package.json. Returns the folder; removed in teardown.
export function packedApp(t, pkg = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acb-pack-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' })
  const tarball = path.join(dir, out.trim().split('\n').pop())
  const app = path.join(dir, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, ...pkg }))
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball], {
    cwd: app,
    stdio: 'ignore'
  })
  return app
}
