// The benchmark cases: how a sender writes N-byte messages and how a receiver counts them.
// Baselines use the runtime's socket through the package's thin backend layer; protomux uses the
// runtime's own stream sockets; the transport case uses TcpTransport.
import b4a from 'b4a'
import c from 'compact-encoding'
import { getTcpBackend, TcpTransport, NodeAddress, detectRuntime, monotonicNow } from 'actor-cluster-bare'

const HOST = '127.0.0.1'
const BATCH = 256
const HIGH_QUEUE = 4 * 1024 * 1024

const struct = {
  preencode(state, m) {
    c.string.preencode(state, m.to)
    c.string.preencode(state, m.manifest)
    c.buffer.preencode(state, m.body)
  },
  encode(state, m) {
    c.string.encode(state, m.to)
    c.string.encode(state, m.manifest)
    c.buffer.encode(state, m.body)
  },
  decode(state) {
    return { to: c.string.decode(state), manifest: c.string.decode(state), body: c.buffer.decode(state) }
  }
}

export const CASES = {
  // 4-byte length prefix + payload, many messages per write.
  raw: {
    async sender(socket, size, until) {
      const frame = b4a.alloc(4 + size)
      new DataView(frame.buffer, frame.byteOffset).setUint32(0, size, true)
      const batch = b4a.alloc(frame.byteLength * BATCH)
      for (let i = 0; i < BATCH; i++) batch.set(frame, i * frame.byteLength)
      return pump(socket, until, () => ({ data: batch, count: BATCH }))
    },
    receiver: prefixCounter(() => {})
  },
  // A compact-encoding struct per message, batch-encoded into one buffer, decoded one by one.
  cenc: {
    async sender(socket, size, until) {
      const msg = { to: 'user/sink', manifest: 'bench', body: b4a.alloc(size, 1) }
      return pump(socket, until, () => {
        const state = c.state()
        for (let i = 0; i < BATCH; i++) {
          state.end += 4
          struct.preencode(state, msg)
        }
        state.buffer = b4a.allocUnsafe(state.end)
        const view = new DataView(state.buffer.buffer, state.buffer.byteOffset)
        for (let i = 0; i < BATCH; i++) {
          const at = state.start
          state.start += 4
          struct.encode(state, msg)
          view.setUint32(at, state.start - at - 4, true)
        }
        return { data: state.buffer, count: BATCH }
      })
    },
    receiver: prefixCounter((payload) => struct.decode(c.state(0, payload.byteLength, payload)))
  },
  // What a hand-rolled transport often is: JSON per message, one write per message.
  naive: {
    async sender(socket, size, until) {
      const body = b4a.toString(b4a.alloc(size, 1), 'base64')
      let sent = 0
      let bytes = 0
      while (Date.now() < until) {
        for (let i = 0; i < BATCH; i++) {
          const line = b4a.from(JSON.stringify({ to: 'user/sink', manifest: 'bench', body }) + '\n')
          bytes += line.byteLength
          sent++
          if (!socket.write(line)) await drained(socket)
        }
        if ((sent & 16383) === 0) await tick()
      }
      return { sent, bytes }
    },
    receiver(socket, report) {
      let pending = ''
      counter(socket, report, (chunk, count) => {
        pending += b4a.toString(chunk)
        let i
        while ((i = pending.indexOf('\n')) !== -1) {
          JSON.parse(pending.slice(0, i))
          pending = pending.slice(i + 1)
          count()
        }
      })
    }
  }
}

// TcpTransport envelopes: the receiver counts until the sender's last envelope.
CASES.transport = {
  async listen(report) {
    const node = await benchNode()
    const { count, result } = tally()
    node.setHandler((from, msg) => {
      if (msg.kind !== 'envelope') return
      if (msg.manifest === 'end') node.shutdown().then(() => report(result()))
      else count(msg.body.byteLength)
    })
    console.log(JSON.stringify({ port: node.self.port, runtime: detectRuntime() }))
  },
  async dial(port, size, until) {
    const node = await benchNode()
    const to = NodeAddress.parse(`actor-cluster://bench@127.0.0.1:${port}`)
    const msg = { kind: 'envelope', to: 'user/sink', from: null, manifest: 'bench', body: b4a.alloc(size, 1), correlationId: null }
    const batch = Math.max(1, Math.min(BATCH, Math.floor((1024 * 1024) / (size + 32))))
    let sent = 0
    while (Date.now() < until) {
      // Keep the queue short of its bound: stop and let it drain, as a well-behaved sender does.
      if (node.stats(to)?.queuedBytes > HIGH_QUEUE) {
        await tick()
        continue
      }
      for (let i = 0; i < batch; i++) node.send(to, msg)
      sent += batch
      await tick()
    }
    node.send(to, { ...msg, manifest: 'end', body: b4a.alloc(0) })
    const drops = node.stats().drops
    await node.shutdown()
    return { sent, drops }
  }
}

// protomux over framed-stream over the runtime's own stream socket (node:net, or bare-tcp).
CASES.protomux = {
  async listen(report) {
    const { net, Protomux, FramedStream } = await streamModules()
    const { count, result } = tally()
    const server = net.createServer((raw) => {
      const mux = new Protomux(new FramedStream(raw))
      const channel = mux.createChannel({ protocol: 'bench' })
      channel.addMessage({ encoding: struct, onmessage: (m) => count(m.body.byteLength) })
      channel.open()
      mux.stream.on('end', () => {
        mux.stream.end()
        server.close()
        report(result())
      })
      mux.stream.on('error', () => {})
    })
    server.listen(0, HOST, () => console.log(JSON.stringify({ port: server.address().port, runtime: detectRuntime() })))
  },
  async dial(port, size, until) {
    const { net, Protomux, FramedStream } = await streamModules()
    const raw = net.createConnection(port, HOST)
    const framed = new FramedStream(raw)
    const mux = new Protomux(framed)
    const opened = new Promise((resolve) => {
      const channel = mux.createChannel({ protocol: 'bench', onopen: () => resolve(channel) })
      channel.addMessage({ encoding: struct })
      channel.open()
    })
    const channel = await opened
    const message = channel.messages[0]
    const msg = { to: 'user/sink', manifest: 'bench', body: b4a.alloc(size, 1) }
    let sent = 0
    let rounds = 0
    while (Date.now() < until) {
      mux.cork()
      let ok = true
      for (let i = 0; i < BATCH; i++) ok = message.send(msg) && ok
      mux.uncork()
      sent += BATCH
      if (!ok) await new Promise((resolve) => framed.once('drain', resolve))
      else if ((++rounds & 63) === 0) await tick()
    }
    await new Promise((resolve) => {
      framed.on('close', resolve)
      framed.on('error', resolve)
      framed.end()
    })
    return { sent }
  }
}

// Counts messages from the first one to the end of the stream; the clock is read twice in all,
// so the count itself costs the receiver next to nothing.
function tally() {
  let messages = 0
  let bytes = 0
  let first = 0
  return {
    count(n) {
      if (messages++ === 0) first = Date.now()
      bytes += n
    },
    result: () => ({ messages, bytes, ms: Math.max(1, Date.now() - first) })
  }
}

async function streamModules() {
  const Protomux = (await import('protomux')).default
  const FramedStream = (await import('framed-stream')).default
  const net = typeof globalThis.Bare !== 'undefined' ? (await import('bare-tcp')).default : await import('node:net')
  return { net, Protomux, FramedStream }
}

// Ping-pong round trips: one message out, wait for its echo, repeat. The sender reports the
// percentiles of the round trips it timed.
export const RTT_SAMPLES = 3000

CASES['rtt-raw'] = {
  receiver(socket, report) {
    socket.ondata = (chunk) => socket.write(chunk)
    socket.onend = () => {
      socket.end()
      report({})
    }
  },
  async sender(socket, size, until) {
    const frame = b4a.alloc(4 + size, 1)
    new DataView(frame.buffer, frame.byteOffset).setUint32(0, size, true)
    const times = []
    let got = 0
    let resolve = null
    socket.ondata = (chunk) => {
      got += chunk.byteLength
      if (got >= frame.byteLength && resolve) {
        got -= frame.byteLength
        const r = resolve
        resolve = null
        r()
      }
    }
    while (times.length < RTT_SAMPLES && Date.now() < until) {
      const t0 = clock()
      await new Promise((r) => {
        resolve = r
        socket.write(frame)
      })
      times.push(clock() - t0)
    }
    return percentiles(times)
  }
}

CASES['rtt-transport'] = {
  async listen(report) {
    const node = await benchNode()
    node.setHandler((from, msg) => {
      if (msg.kind !== 'envelope') return
      if (msg.manifest === 'end') node.shutdown().then(() => report({}))
      else node.send(from, msg)
    })
    console.log(JSON.stringify({ port: node.self.port, runtime: detectRuntime() }))
  },
  async dial(port, size, until) {
    const node = await benchNode()
    const to = NodeAddress.parse(`actor-cluster://bench@127.0.0.1:${port}`)
    const msg = { kind: 'envelope', to: 'user/echo', from: null, manifest: 'ping', body: b4a.alloc(size, 1), correlationId: null }
    let resolve = null
    node.setHandler(() => {
      const r = resolve
      resolve = null
      r?.()
    })
    const times = []
    while (times.length < RTT_SAMPLES && Date.now() < until) {
      const t0 = clock()
      await new Promise((r) => {
        resolve = r
        node.send(to, msg)
      })
      times.push(clock() - t0)
    }
    node.send(to, { ...msg, manifest: 'end' })
    await node.shutdown()
    return percentiles(times.slice(1)) // the first includes the dial and handshake
  }
}

// Heartbeat round trips on a connection that carries 16 MiB envelopes flat out: what the control
// lane and chunking buy. The sender reports heartbeat percentiles and the bulk rate.
CASES['heartbeat-under-load'] = {
  async listen(report) {
    const node = await benchNode()
    node.setHandler((from, msg) => {
      if (msg.kind === 'envelope' && msg.manifest === 'end') node.shutdown().then(() => report({}))
    })
    console.log(JSON.stringify({ port: node.self.port, runtime: detectRuntime() }))
  },
  async dial(port, size, until) {
    const node = await benchNode({ maxQueuedBytes: 64 * 1024 * 1024 })
    const to = NodeAddress.parse(`actor-cluster://bench@127.0.0.1:${port}`)
    const big = { kind: 'envelope', to: 'user/sink', from: null, manifest: 'bulk', body: b4a.alloc(16 * 1024 * 1024 - 1024, 1), correlationId: null }
    const rtts = []
    node.setHandler((from, msg) => {
      if (msg.kind === 'heartbeat-ack') rtts.push(clock() - msg.sentAt)
    })
    node.send(to, { kind: 'heartbeat', seq: 0, sentAt: clock() }) // connect
    await new Promise((resolve) => setTimeout(resolve, 200))
    let seq = 1
    let bulk = 0
    const beat = setInterval(() => node.send(to, { kind: 'heartbeat', seq: seq++, sentAt: clock() }), 10)
    const started = Date.now()
    while (Date.now() < until) {
      // Keep two large envelopes queued at all times.
      if ((node.stats(to)?.queuedBytes ?? 0) < 2 * big.body.byteLength) {
        node.send(to, big)
        bulk++
      }
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
    clearInterval(beat)
    const seconds = (Date.now() - started) / 1000
    const sentBytes = node.stats(to)?.bytesOut ?? 0
    node.send(to, { ...big, manifest: 'end', body: b4a.alloc(0) })
    await node.shutdown()
    return { ...percentiles(rtts.slice(5)), bulkMBps: sentBytes / seconds / 1e6, bulkEnvelopes: bulk }
  }
}

// A started TcpTransport on loopback with its own heartbeats off.
async function benchNode(opts = {}) {
  const node = new TcpTransport({ self: NodeAddress.parse('actor-cluster://bench@127.0.0.1:0'), heartbeatIntervalMs: 0, ...opts })
  await node.start()
  return node
}

export function percentiles(times) {
  const s = [...times].sort((a, b) => a - b)
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? null
  return { samples: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? null }
}

const clock = monotonicNow

// Sender writes until `until`, waiting for drain when told; returns what it sent.
async function pump(socket, until, next) {
  let sent = 0
  let bytes = 0
  let rounds = 0
  while (Date.now() < until) {
    const { data, count } = next()
    sent += count
    bytes += data.byteLength
    if (!socket.write(data)) await drained(socket)
    else if ((++rounds & 63) === 0) await tick()
  }
  return { sent, bytes }
}

function prefixCounter(onpayload) {
  return (socket, report) => {
    let buffered = null
    counter(socket, report, (chunk, count) => {
      let data = buffered === null ? chunk : b4a.concat([buffered, chunk])
      let offset = 0
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
      while (data.byteLength - offset >= 4) {
        const len = view.getUint32(offset, true)
        if (data.byteLength - offset - 4 < len) break
        onpayload(data.subarray(offset + 4, offset + 4 + len))
        offset += 4 + len
        count()
      }
      buffered = offset === data.byteLength ? null : data.slice(offset)
    })
  }
}

function counter(socket, report, ondata) {
  const { count, result } = tally()
  const one = () => count(0)
  socket.ondata = (chunk) => ondata(chunk, one)
  socket.onend = () => {
    socket.end()
    report(result())
  }
}

export function drained(socket) {
  return new Promise((resolve) => {
    socket.ondrain = () => {
      socket.ondrain = null
      resolve()
    }
  })
}

// Lets I/O run; setImmediate where the runtime has it (setTimeout(0) is clamped to 1 ms).
const defer = typeof setImmediate === 'function' ? setImmediate : (fn) => setTimeout(fn, 0)

export function tick() {
  return new Promise((resolve) => defer(resolve))
}

export { HOST, BATCH, HIGH_QUEUE, getTcpBackend, TcpTransport, NodeAddress, detectRuntime }
