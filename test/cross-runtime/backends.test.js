// Real processes on Bare, Node, Bun and Deno dial each other in all 16 directions.
import test from 'brittle'
import path from 'node:path'
import { ROOT, RUNTIMES, start, certDir } from './helpers.js'

const PEER = path.join(ROOT, 'test', 'cross-runtime', 'echo-peer.js')
const BYTES = 1024 * 1024 + 17

for (const secure of [false, true]) {
  const what = secure ? 'over TLS' : 'in plaintext'
  test(`every runtime dials every runtime ${what} and exchanges 1 MiB byte-exact`, { timeout: 120000 }, async (t) => {
    const tlsDir = secure ? await certDir(t) : '-'
    await pairs(t, tlsDir, secure)
  })
}

async function pairs(t, tlsDir, secure) {
  const servers = {}
  for (const runtime of RUNTIMES) {
    const proc = start(t, runtime, PEER, ['serve', String(RUNTIMES.length), tlsDir])
    const hello = await proc.json()
    t.is(hello.runtime, runtime, `${runtime} server is really ${runtime}`)
    servers[runtime] = { proc, port: hello.port }
  }

  const pairs = []
  for (const dialler of RUNTIMES) {
    for (const listener of RUNTIMES) {
      const proc = start(t, dialler, PEER, ['dial', String(servers[listener].port), String(BYTES), tlsDir])
      pairs.push(
        proc.json(60000).then(async (res) => ({ dialler, listener, res, exit: await proc.exited }))
      )
    }
  }
  for (const { dialler, listener, res, exit } of await Promise.all(pairs)) {
    t.ok(res.ok && res.runtime === dialler && exit.code === 0 && res.encrypted === secure, `${dialler} -> ${listener}: ${res.bytes} bytes echoed`)
  }
  for (const runtime of RUNTIMES) {
    const exit = await servers[runtime].proc.exited
    t.is(exit.code, 0, `${runtime} server saw every connection close`)
  }
}
