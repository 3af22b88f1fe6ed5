// TcpBackend on Bun.listen / Bun.connect. Only `globalThis.Bun` is touched, and only when used.
// Bun's write may take part of a buffer: the rest waits in a WriteBuffer, flushed on drain.

import { ClusterError } from '../lib/errors.ts'
import { READ_BYTES_PER_TURN, SocketBase, applySocketOptions, describeError, nextTurn } from './socket-base.ts'
import { resolveTls, type ResolvedTls } from './tls-settings.ts'
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HIGH_WATER_MARK,
  type ConnectOptions,
  type ListenOptions,
  type TcpBackend,
  type TcpServer,
  type TcpSocket
} from './types.ts'
import { WriteBuffer } from './write-buffer.ts'

interface BunSocket {
  data: BunTcpSocket | null
  readonly remoteAddress: string
  readonly remotePort?: number
  readonly localAddress?: string
  readonly localPort: number
  write(data: Uint8Array): number
  shutdown(halfClose?: boolean): void
  end(): void
  terminate(): void
  pause(): void
  resume(): void
  setNoDelay(enable: boolean): boolean
  setKeepAlive(enable: boolean, delay?: number): boolean
}

interface Handlers {
  open?(s: BunSocket): void
  data(s: BunSocket, d: Uint8Array): void
  drain(s: BunSocket): void
  end(s: BunSocket): void
  close(s: BunSocket, err?: Error): void
  error(s: BunSocket, err: Error): void
  handshake?(s: BunSocket, success: boolean, authorizationError: Error | null): void
  connectError?(s: BunSocket, err: Error): void
}

interface BunListener {
  readonly port: number
  stop(closeActive?: boolean): void
}

interface BunApi {
  listen(opts: object): BunListener
  connect(opts: object): Promise<BunSocket>
}

export const bunTcpBackend: TcpBackend = {
  name: 'bun',
  verifiesClientCertificates: true,
  listen,
  connect
}

async function listen(opts: ListenOptions): Promise<TcpServer> {
  const bun = bunApi()
  const settings = resolveTls(opts.tls)
  let connections = 0
  const accept = (s: BunSocket) => {
    connections++
    const socket = new BunTcpSocket(s, settings !== null, () => connections--)
    applySocketOptions(socket, opts)
    opts.onconnection(socket)
  }
  const handlers: Handlers = {
    ...socketHandlers(),
    open(s) {
      if (settings === null) accept(s)
    },
    handshake(s, success, authorizationError) {
      if (success && (authorizationError === null || !settings?.rejectUnauthorized)) {
        accept(s)
        return
      }
      const why = authorizationError?.message ?? 'TLS handshake failed'
      opts.onerror?.(ClusterError.SOCKET_ERROR(why, authorizationError))
      s.terminate()
    }
  }
  let listener: BunListener
  try {
    listener = bun.listen({
      hostname: opts.host,
      port: opts.port,
      allowHalfOpen: true,
      socket: handlers,
      tls: settings ? tlsOptions(settings, true) : undefined
    })
  } catch (err) {
    throw ClusterError.LISTEN_FAILED(`cannot listen on ${opts.host}:${opts.port}: ${describeError(err)}`, err)
  }
  return {
    host: opts.host,
    port: listener.port,
    get connections() {
      return connections
    },
    async close() {
      listener.stop(false)
    }
  }
}

async function connect(opts: ConnectOptions): Promise<TcpSocket> {
  const bun = bunApi()
  const settings = resolveTls(opts.tls)
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  const where = `${opts.host}:${opts.port}`
  let socket: BunTcpSocket | null = null
  let settle: { resolve: () => void; reject: (err: ClusterError) => void } | null = null
  const ready = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject }
  })
  const fail = (err: ClusterError) => settle?.reject(err)
  // Bun.connect takes handlers per dial, so the dial's own state lives in these closures.
  bun
    .connect({
      hostname: opts.host,
      port: opts.port,
      allowHalfOpen: true,
      tls: settings ? tlsOptions(settings, false, opts.host) : undefined,
      socket: {
        ...socketHandlers(),
        open(s: BunSocket) {
          socket = new BunTcpSocket(s, settings !== null, null)
          if (settings === null) settle?.resolve()
        },
        handshake(s: BunSocket, success: boolean, authorizationError: Error | null) {
          if (success && (authorizationError === null || !settings?.rejectUnauthorized)) {
            settle?.resolve()
            return
          }
          fail(ClusterError.CONNECT_FAILED(`${where}: ${authorizationError?.message ?? 'TLS handshake failed'}`, authorizationError))
          s.terminate()
        },
        connectError(_s: BunSocket, err: Error) {
          fail(ClusterError.CONNECT_FAILED(`cannot connect to ${where}: ${describeError(err)}`, err))
        }
      }
    })
    .catch((err: unknown) => fail(ClusterError.CONNECT_FAILED(`cannot connect to ${where}: ${describeError(err)}`, err)))

  let timer: TimerHandle | null = null
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(ClusterError.CONNECT_FAILED(`${where}: timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    await Promise.race([ready, timeout])
  } catch (err) {
    ;(socket as BunTcpSocket | null)?.destroy(null)
    throw err
  } finally {
    if (timer !== null) clearTimeout(timer)
  }
  const connected = socket as BunTcpSocket | null
  if (connected === null) throw ClusterError.CONNECT_FAILED(`${where}: no socket`)
  applySocketOptions(connected, opts)
  return connected
}

// The same handlers serve every socket; each Bun socket's `data` points at its wrapper.
function socketHandlers(): Handlers {
  return {
    data(s, d) {
      s.data?._ondata(d)
    },
    drain(s) {
      s.data?._ondrain()
    },
    end(s) {
      s.data?._onend()
    },
    error(s, err) {
      s.data?._onerror(err)
    },
    close(s, err) {
      if (err) s.data?._onerror(err)
      s.data?._onclose()
    }
  }
}

class BunTcpSocket extends SocketBase implements TcpSocket {
  private _raw: BunSocket
  private _pending: WriteBuffer
  private _ending: boolean
  private _full: boolean
  private _endSeen: boolean
  private _destroyed: boolean
  private _onfinal: (() => void) | null
  /**
   * Bytes handed over since reading last let the event loop turn; paused by the caller, and
   * paused until the next turn.
   */
  private _readInTurn: number
  private _paused: boolean
  private _waitingTurn: boolean

  constructor(raw: BunSocket, encrypted: boolean, onfinal: (() => void) | null) {
    super(encrypted, raw.remoteAddress, raw.remotePort)
    this._raw = raw
    this._pending = new WriteBuffer()
    this._ending = false
    this._full = false
    this._endSeen = false
    this._destroyed = false
    this._onfinal = onfinal
    this._readInTurn = 0
    this._paused = false
    this._waitingTurn = false
    raw.data = this
  }

  get localAddress(): string | null {
    return this._raw.localAddress ?? null
  }

  get localPort(): number | null {
    return this._raw.localPort ?? null
  }

  get bufferedBytes(): number {
    return this._pending.bytes
  }

  write(data: Uint8Array): boolean {
    if (this._closed || this._ending) return false
    if (this._pending.empty) {
      const n = this._raw.write(data)
      if (n >= data.byteLength) return true
      this._pending.push(n > 0 ? data.subarray(n) : data)
    } else {
      this._pending.push(data)
    }
    if (this._pending.bytes >= DEFAULT_HIGH_WATER_MARK) this._full = true
    return !this._full
  }

  end(): void {
    if (this._closed || this._ending) return
    this._ending = true
    if (this._pending.empty) this._raw.shutdown()
  }

  destroy(cause: ClusterError | null = null): void {
    if (this._closed) return
    this._setCause(cause)
    this._destroyed = true
    this._pending.clear()
    this._raw.terminate()
  }

  pause(): void {
    this._paused = true
    this._raw.pause()
  }

  resume(): void {
    this._paused = false
    if (!this._waitingTurn) this._raw.resume()
  }

  _ondata(d: Uint8Array): void {
    this.ondata?.(d)
    this._readInTurn += d.byteLength
    if (this._readInTurn < READ_BYTES_PER_TURN || this._waitingTurn || this._closed) return
    this._waitingTurn = true
    this._raw.pause()
    nextTurn(() => {
      this._waitingTurn = false
      this._readInTurn = 0
      if (!this._paused && !this._closed) this._raw.resume()
    })
  }

  setNoDelay(enable: boolean): void {
    this._raw.setNoDelay(enable)
  }

  setKeepAlive(enable: boolean, initialDelayMs = 0): void {
    this._raw.setKeepAlive(enable, initialDelayMs)
  }

  _ondrain(): void {
    for (let chunk = this._pending.peek(); chunk !== null; chunk = this._pending.peek()) {
      const n = this._raw.write(chunk)
      if (n <= 0) return
      this._pending.consume(n)
      if (n < chunk.byteLength) return
    }
    if (this._ending) {
      this._raw.shutdown()
      return
    }
    if (this._full) {
      this._full = false
      this.ondrain?.()
    }
  }

  _onend(): void {
    if (this._endSeen) return
    this._endSeen = true
    this.onend?.()
  }

  _onerror(err: Error): void {
    this._setError(err)
  }

  _onclose(): void {
    if (this._closed) return
    // Bun skips `end` for a socket that had already shut its own side: an orderly close still
    // means the peer ended.
    if (!this._destroyed && this._cause === null) this._onend()
    this._pending.clear()
    this._onfinal?.()
    this._reportClose()
  }
}

function tlsOptions(s: ResolvedTls, isServer: boolean, host?: string): object {
  return {
    cert: s.cert,
    key: s.key,
    ca: s.ca ?? undefined,
    rejectUnauthorized: s.rejectUnauthorized,
    requestCert: isServer ? s.rejectUnauthorized : undefined,
    serverName: isServer ? undefined : (s.serverName ?? host)
  }
}

function bunApi(): BunApi {
  const bun = (globalThis as { Bun?: BunApi }).Bun
  if (!bun) throw ClusterError.UNSUPPORTED_RUNTIME('bunTcpBackend runs on Bun only')
  return bun
}
