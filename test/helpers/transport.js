// Helpers for transport tests: start transports on loopback, wait for conditions with a bound.
import { TcpTransport, NodeAddress } from 'actor-cluster-bare'

export async function tcpNode(t, name, opts = {}) {
  const transport = new TcpTransport({
    self: NodeAddress.parse(`actor-cluster://test@127.0.0.1:${opts.port ?? 0}`),
    cluster: 'test',
    heartbeatIntervalMs: 0,
    ...opts
  })
  await transport.start()
  transport.name = name
  transport.received = []
  transport.setHandler((from, msg) => transport.received.push({ from, msg }))
  t.teardown(() => transport.shutdown())
  return transport
}

// Polls `cond` every 10 ms until it is true, or fails after `ms`.
export async function until(cond, ms = 5000, what = 'condition') {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export function envelope(i, body = new Uint8Array(0), to = 'user/sink') {
  return { kind: 'envelope', to, from: null, manifest: 'n:' + i, body, correlationId: null }
}

// Wraps a backend so a test can make its node vanish as a killed process would: the listener
// closes and every socket is cut without a goodbye.
export function crashable(backend) {
  const sockets = new Set()
  const servers = new Set()
  const track = (socket) => {
    sockets.add(socket)
    return socket
  }
  return {
    name: backend.name,
    verifiesClientCertificates: backend.verifiesClientCertificates,
    async listen(opts) {
      const server = await backend.listen({ ...opts, onconnection: (s) => opts.onconnection(track(s)) })
      servers.add(server)
      return server
    },
    async connect(opts) {
      return track(await backend.connect(opts))
    },
    async crash() {
      for (const s of sockets) s.destroy(null)
      await Promise.all([...servers].map((s) => s.close()))
    }
  }
}
