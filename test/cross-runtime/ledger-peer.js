// One process of the ledger soak, on any runtime.
//   ledger-peer.js receive <port> <cutAfter> [holdAt]   listen on 127.0.0.1:<port> (0: any), print
//       {"port"}, then every 200 ms what arrived per sender; with cutAfter > 0, cut every
//       connection once after that many envelopes (a network cut: the same incarnation stays);
//       with holdAt, once a connection has brought that many bytes print {"holding"} and stop
//       (the event loop blocked, to be killed in the middle of a message)
//   ledger-peer.js send <port> <ms>            tell the receiver flat out for <ms>, wait until
//       everything is settled, print stats(receiver).delivery and the last number sent
import { TcpTransport, NodeAddress, getTcpBackend } from 'actor-cluster-bare'
import { args, exit } from '../helpers/proc.js'

const [mode, portArg, extra, holdArg] = args()
setTimeout(() => exit(3), 60_000)

if (mode === 'receive') {
  const real = getTcpBackend()
  const sockets = new Set()
  // The real backend, with the accepted sockets kept so they can be cut.
  const backend = Object.create(real)
  backend.listen = (o) =>
    real.listen({
      ...o,
      onconnection(socket) {
        sockets.add(socket)
        const onclose = () => sockets.delete(socket)
        o.onconnection(socket)
        const holdAt = Number(holdArg ?? 0)
        let bytes = 0
        const ondata = socket.ondata
        socket.ondata = (chunk) => {
          bytes += chunk.byteLength
          if (holdAt > 0 && bytes >= holdAt) {
            console.log(JSON.stringify({ holding: bytes }))
            const end = Date.now() + 20_000
            while (Date.now() < end) {}
          }
          ondata(chunk)
        }
        const theirs = socket.onclose
        socket.onclose = (cause) => {
          onclose()
          theirs?.(cause)
        }
      }
    })
  const node = new TcpTransport({ self: `actor-cluster://soak@127.0.0.1:${portArg}`, backend })
  const cutAfter = Number(extra)
  let total = 0
  let cut = false
  const per = {}
  node.setHandler((from, msg) => {
    if (msg.kind !== 'envelope') return
    const k = from.toString()
    if (msg.manifest === 'big') {
      const s = (per[k] ??= { first: 0, last: -1, count: 0, gaps: 0, dups: 0, big: 0 })
      s.big++
      return
    }
    const n = Number(msg.manifest)
    const s = (per[k] ??= { first: n, last: n - 1, count: 0, gaps: 0, dups: 0, big: 0 })
    if (n <= s.last) s.dups++
    else if (n !== s.last + 1) s.gaps++
    s.last = Math.max(s.last, n)
    s.count++
    if (++total === cutAfter && !cut) {
      cut = true
      for (const socket of sockets) socket.destroy(null)
    }
  })
  await node.start()
  console.log(JSON.stringify({ port: node.self.port }))
  setInterval(() => console.log(JSON.stringify({ cut, per })), 200)
} else {
  const node = new TcpTransport({ self: 'actor-cluster://soak@127.0.0.1:0', maxDialAttempts: 1000, backoffMaxMs: 200 })
  await node.start()
  const to = NodeAddress.parse(`actor-cluster://soak@127.0.0.1:${portArg}`)
  const until = Date.now() + Number(extra)
  let n = 0
  const body = new Uint8Array(64)
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0))
  while (Date.now() < until) {
    if ((node.stats(to)?.queuedBytes ?? 0) > 1 << 20) {
      await tick()
      continue
    }
    for (let i = 0; i < 200; i++) node.send(to, { kind: 'envelope', to: 'user/sink', from: null, manifest: String(n++), body })
    await tick()
  }
  const settleBy = Date.now() + 15_000
  while (Date.now() < settleBy && node.stats(to).delivery.pending > 0) await new Promise((resolve) => setTimeout(resolve, 50))
  const s = node.stats(to)
  console.log(JSON.stringify({ self: node.self.toString(), last: n - 1, delivery: s.delivery, reconnects: s.reconnects }))
  await node.shutdown()
  exit(0)
}
