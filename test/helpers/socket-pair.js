// Two connected sockets in one process that fill the TcpSocket contract of backends/types.ts:
// every byte arrives in order, in pieces of at most `chunkBytes` on a later turn of the event
// loop; write() says stop past the high-water mark while the other side has not read; end() is
// a half-close; destroy(cause) closes both, the cause on the side that destroyed. For tests of
// what runs over any duplex, without TCP.
import { DEFAULT_HIGH_WATER_MARK } from 'actor-cluster-bare'

const later = typeof setImmediate === 'function' ? setImmediate : (fn) => setTimeout(fn, 0)
let nextPort = 40000

export function socketPair(opts = {}) {
  const highWaterMark = opts.highWaterMark ?? DEFAULT_HIGH_WATER_MARK
  const chunkBytes = opts.chunkBytes ?? 64 * 1024
  const a = new MemorySocket(highWaterMark, chunkBytes, nextPort++)
  const b = new MemorySocket(highWaterMark, chunkBytes, nextPort++)
  a._other = b
  b._other = a
  return [a, b]
}

class MemorySocket {
  constructor(highWaterMark, chunkBytes, port) {
    this.remoteAddress = 'memory'
    this.remotePort = port
    this.localAddress = 'memory'
    this.localPort = port
    this.encrypted = false
    this.closed = false
    this.ondata = null
    this.ondrain = null
    this.onend = null
    this.onclose = null
    this.writes = 0
    this._other = null
    this._hwm = highWaterMark
    this._chunkBytes = chunkBytes
    // What this side wrote and the other has not read yet.
    this._outbox = []
    this._outboxBytes = 0
    this._paused = false
    this._ending = false
    this._endSent = false
    this._endReceived = false
    this._needsDrain = false
    this._pumpQueued = false
  }

  get bufferedBytes() {
    return this._outboxBytes
  }

  write(data) {
    if (this.closed || this._ending) return false
    this.writes++
    if (data.byteLength > 0) {
      this._outbox.push(data.slice())
      this._outboxBytes += data.byteLength
      this._other._schedule()
    }
    if (this._outboxBytes >= this._hwm) {
      this._needsDrain = true
      return false
    }
    return true
  }

  end() {
    if (this.closed || this._ending) return
    this._ending = true
    this._other._schedule()
  }

  destroy(cause = null) {
    if (this.closed) return
    this._close(cause)
    this._other._close(null)
  }

  pause() {
    this._paused = true
  }

  resume() {
    this._paused = false
    this._schedule()
  }

  setNoDelay() {}

  setKeepAlive() {}

  // Reads what the other side wrote, on a later turn.
  _schedule() {
    if (this._pumpQueued || this.closed) return
    this._pumpQueued = true
    later(() => {
      this._pumpQueued = false
      this._pump()
    })
  }

  _pump() {
    const from = this._other
    while (!this.closed && !this._paused && from._outbox.length > 0) {
      let chunk = from._outbox[0]
      if (chunk.byteLength > this._chunkBytes) {
        from._outbox[0] = chunk.subarray(this._chunkBytes)
        chunk = chunk.subarray(0, this._chunkBytes)
      } else {
        from._outbox.shift()
      }
      from._outboxBytes -= chunk.byteLength
      if (this.ondata) this.ondata(chunk)
      // One piece a turn when more is waiting, as a socket lets the event loop turn.
      if (from._outbox.length > 0) {
        this._schedule()
        break
      }
    }
    if (from._needsDrain && from._outboxBytes < from._hwm && !from.closed) {
      from._needsDrain = false
      if (from.ondrain) from.ondrain()
    }
    if (!this.closed && from._ending && !from._endSent && from._outbox.length === 0) {
      from._endSent = true
      this._endReceived = true
      if (this.onend) this.onend()
      if (this._endSent) this._bothEnded()
    } else if (!this.closed && this._endSent && this._endReceived) {
      this._bothEnded()
    }
  }

  _bothEnded() {
    later(() => {
      if (!this.closed) this._close(null)
      if (!this._other.closed) this._other._close(null)
    })
  }

  _close(cause) {
    if (this.closed) return
    this.closed = true
    this._outbox = []
    this._outboxBytes = 0
    later(() => {
      if (this.onclose) this.onclose(cause)
    })
  }
}
