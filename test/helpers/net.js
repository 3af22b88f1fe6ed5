// Small helpers shared by the socket tests. Everything stays on 127.0.0.1 and port 0.
export const HOST = '127.0.0.1'

// Resolves with the next value `subscribe` hands its callback, or rejects after `ms`.
export function waitFor(subscribe, ms = 5000, what = 'event') {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
    subscribe((value) => {
      clearTimeout(timer)
      resolve(value)
    })
  })
}

// Deterministic bytes, so a receiver can check content without keeping a copy.
export function pattern(length, seed = 1) {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

export function equalBytes(a, b) {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

export function concat(chunks) {
  let n = 0
  for (const c of chunks) n += c.byteLength
  const out = new Uint8Array(n)
  let o = 0
  for (const c of chunks) {
    out.set(c, o)
    o += c.byteLength
  }
  return out
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// Collects everything a socket receives until it ends or closes.
export function collect(socket) {
  const chunks = []
  let bytes = 0
  socket.ondata = (c) => {
    chunks.push(c.slice())
    bytes += c.byteLength
  }
  const ended = new Promise((resolve) => {
    socket.onend = () => resolve()
  })
  return {
    chunks,
    get bytes() {
      return bytes
    },
    ended,
    all: () => concat(chunks)
  }
}
