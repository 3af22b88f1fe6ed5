// One side of a benchmark case, run as its own process on any runtime.
//   worker.js recv <case>                          prints {"port"}, then the receiver's figures
//   worker.js send <case> <port> <size> <ms>       prints the sender's figures
import { CASES as TRANSPORT_CASES, HOST, getTcpBackend, detectRuntime } from './cases.js'
import { ACTOR_CASES } from './actor-cases.js'
import { args, exit } from '../test/helpers/proc.js'

const [role, name, port, size, ms] = args()
const LIFETIME_MS = 120_000
const watchdog = setTimeout(() => {
  console.log(JSON.stringify({ error: 'timed out' }))
  exit(3)
}, LIFETIME_MS)

const CASES = { ...TRANSPORT_CASES, ...ACTOR_CASES }
const bench = CASES[name]
if (!bench) {
  console.log(JSON.stringify({ error: 'unknown case ' + name }))
  exit(2)
}

if (role === 'recv') {
  if (bench.listen) {
    await bench.listen(report)
  } else {
    const server = await getTcpBackend().listen({
      host: HOST,
      port: 0,
      onconnection: (socket) => bench.receiver(socket, (r) => server.close().then(() => report(r)))
    })
    console.log(JSON.stringify({ port: server.port, runtime: detectRuntime() }))
  }
} else {
  const until = Date.now() + Number(ms)
  if (bench.dial) {
    report(await bench.dial(Number(port), Number(size), until))
  } else {
    const socket = await getTcpBackend().connect({ host: HOST, port: Number(port) })
    const r = await bench.sender(socket, Number(size), until)
    socket.onend = () => socket.end()
    socket.end()
    report(r)
  }
}

function report(r) {
  clearTimeout(watchdog)
  console.log(JSON.stringify(r))
  // Let the line reach the pipe before leaving.
  setTimeout(() => exit(0), 20)
}
