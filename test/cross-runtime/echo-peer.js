// One side of a cross-runtime pair, run as its own process on any runtime.
//   echo-peer.js serve <connections> [tlsDir]   listen on 127.0.0.1:0, print {"port"}, echo, exit
//                                               after <connections> connections have closed
//   echo-peer.js dial <port> <bytes> [tlsDir]   send <bytes> of pattern, check the echo, print
// With a tlsDir (holding ca.pem, cert.pem, key.pem) both sides speak TLS.
import { getTcpBackend, detectRuntime } from 'actor-cluster-bare'
import { args, exit, tlsFrom } from '../helpers/proc.js'
import { HOST, pattern, equalBytes, collect } from '../helpers/net.js'

const LIFETIME_MS = 60_000
const [mode, a, b, c] = args()
const backend = getTcpBackend()
const tls = await tlsFrom(mode === 'serve' ? b : c)
setTimeout(() => {
  console.log(JSON.stringify({ runtime: detectRuntime(), error: 'timed out' }))
  exit(3)
}, LIFETIME_MS)

if (mode === 'serve') {
  let left = Number(a)
  const server = await backend.listen({
    host: HOST,
    port: 0,
    tls,
    onconnection(socket) {
      socket.ondata = (chunk) => {
        if (!socket.write(chunk)) {
          socket.pause()
          socket.ondrain = () => socket.resume()
        }
      }
      socket.onend = () => socket.end()
      socket.onclose = () => {
        if (--left === 0) server.close().then(() => exit(0))
      }
    }
  })
  console.log(JSON.stringify({ runtime: detectRuntime(), port: server.port }))
} else if (mode === 'dial') {
  const bytes = Number(b)
  const payload = pattern(bytes, bytes)
  const socket = await backend.connect({ host: HOST, port: Number(a), tls })
  const received = collect(socket)
  let offset = 0
  const pump = () => {
    while (offset < bytes) {
      const end = Math.min(bytes, offset + 65536)
      const ok = socket.write(payload.subarray(offset, end))
      offset = end
      if (!ok) return
    }
    socket.end()
  }
  socket.ondrain = pump
  pump()
  await received.ended
  const ok = received.bytes === bytes && equalBytes(received.all(), payload)
  console.log(JSON.stringify({ runtime: detectRuntime(), ok, bytes: received.bytes, encrypted: socket.encrypted }))
  exit(ok ? 0 : 1)
} else {
  console.log('usage: echo-peer.js serve <connections> | dial <port> <bytes>')
  exit(2)
}
