// Two endpoints on one machine: one listens, one dials, they exchange a few messages and close.
// Runs on Bare (`bare example/two-nodes.js`), Node, Bun and Deno.
import b4a from 'b4a'
import { getTcpBackend, detectRuntime } from 'actor-cluster-bare'

const backend = getTcpBackend()
console.log(`runtime: ${detectRuntime()}, backend: ${backend.name}`)

const server = await backend.listen({
  host: '127.0.0.1',
  port: 0,
  onconnection(socket) {
    console.log(`listener: connection from ${socket.remoteAddress}:${socket.remotePort}`)
    socket.ondata = (data) => socket.write(b4a.from(`ack ${b4a.toString(data)}`))
    socket.onend = () => socket.end()
  }
})
console.log(`listener: on 127.0.0.1:${server.port}`)

const socket = await backend.connect({ host: '127.0.0.1', port: server.port })
let acks = 0
socket.ondata = (data) => {
  console.log(`dialler: ${b4a.toString(data)}`)
  if (++acks === 3) socket.end()
}
socket.onclose = async (cause) => {
  console.log(`dialler: closed${cause ? ` (${cause.code})` : ''}`)
  await server.close()
}
for (const word of ['one', 'two', 'three']) {
  socket.write(b4a.from(word))
  await new Promise((resolve) => setTimeout(resolve, 50))
}
