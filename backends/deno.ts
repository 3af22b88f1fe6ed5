// TcpBackend on Deno.listen / Deno.connect (and their TLS variants). Only `globalThis.Deno` is
// touched, and only when used. Reads run in a loop into fresh buffers; writes go through an
// ordered queue pumped by conn.write, which may take part of a buffer.

import { ClusterError } from '../lib/errors.ts'
import { READ_BYTES_PER_TURN, SocketBase, applySocketOptions, describeError, nextTurn } from './socket-base.ts'
import { resolveTls } from './tls-settings.ts'
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

interface DenoAddr {
  hostname: string
  port: number
}

interface DenoConn {
  readonly remoteAddr: DenoAddr
  readonly localAddr: DenoAddr
  read(buf: Uint8Array): Promise<number | null>
  write(buf: Uint8Array): Promise<number>
  closeWrite(): Promise<void>
  close(): void
  setNoDelay?(enable: boolean): void
  setKeepAlive?(enable: boolean): void
  handshake?(): Promise<unknown>
}

interface DenoListener {
  readonly addr: DenoAddr
  accept(): Promise<DenoConn>
  close(): void
}

interface DenoApi {
  listen(opts: object): DenoListener
  listenTls(opts: object): DenoListener
  connect(opts: object): Promise<DenoConn>
  connectTls(opts: object): Promise<DenoConn>
}

const MIN_READ = 16 * 1024
const MAX_READ = 256 * 1024

export const denoTcpBackend: TcpBackend = {
  name: 'deno',
  /** Deno.listenTls neither requests nor verifies client certificates. */
  verifiesClientCertificates: false,
  listen,
  connect
}

async function listen(opts: ListenOptions): Promise<TcpServer> {
  const deno = denoApi()
  const settings = resolveTls(opts.tls)
  if (settings !== null && settings.rejectUnauthorized === false) noUnverified()
  let listener: DenoListener
  try {
    listener = settings
      ? deno.listenTls({ hostname: opts.host, port: opts.port, cert: settings.cert, key: settings.key })
      : deno.listen({ hostname: opts.host, port: opts.port })
  } catch (err) {
    throw ClusterError.LISTEN_FAILED(`cannot listen on ${opts.host}:${opts.port}: ${describeError(err)}`, err)
  }
  const server = new DenoTcpServer(listener, opts.host)
  void server._accept(async (conn) => {
    if (settings !== null) {
      try {
        await conn.handshake?.()
      } catch (err) {
        opts.onerror?.(ClusterError.SOCKET_ERROR(`TLS handshake failed: ${describeError(err)}`, err))
        closeQuietly(conn)
        return
      }
    }
    const socket = new DenoTcpSocket(conn, settings !== null, server)
    applySocketOptions(socket, opts)
    opts.onconnection(socket)
  })
  return server
}

async function connect(opts: ConnectOptions): Promise<TcpSocket> {
  const deno = denoApi()
  const settings = resolveTls(opts.tls)
  if (settings !== null && settings.rejectUnauthorized === false) noUnverified()
  if (settings !== null && settings.serverName !== null && settings.serverName !== opts.host) {
    throw ClusterError.TLS_UNSUPPORTED('Deno checks the certificate against the dialled host; tls.serverName cannot name another')
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  const where = `${opts.host}:${opts.port}`
  let timer: TimerHandle | null = null
  let timedOut = false
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true
      reject(ClusterError.CONNECT_FAILED(`${where}: timed out after ${timeoutMs} ms`))
    }, timeoutMs)
  })
  const dial = (async () => {
    const conn = settings
      ? await deno.connectTls({
          hostname: opts.host,
          port: opts.port,
          caCerts: settings.ca ? [settings.ca] : undefined,
          cert: settings.cert,
          key: settings.key
        })
      : await deno.connect({ hostname: opts.host, port: opts.port, transport: 'tcp' })
    if (timedOut) {
      closeQuietly(conn)
      return conn
    }
    try {
      if (settings) await conn.handshake?.()
    } catch (err) {
      closeQuietly(conn)
      throw err
    }
    return conn
  })()
  try {
    const conn = await Promise.race([dial, timeout])
    const socket = new DenoTcpSocket(conn, settings !== null, null)
    applySocketOptions(socket, opts)
    return socket
  } catch (err) {
    if (err instanceof ClusterError) throw err
    throw ClusterError.CONNECT_FAILED(`cannot connect to ${where}: ${describeError(err)}`, err)
  } finally {
    if (timer !== null) clearTimeout(timer)
  }
}

class DenoTcpServer implements TcpServer {
  readonly host: string
  readonly port: number
  connections: number
  private _listener: DenoListener
  private _closed: boolean

  constructor(listener: DenoListener, host: string) {
    this.host = host
    this.port = listener.addr.port
    this.connections = 0
    this._listener = listener
    this._closed = false
  }

  async _accept(onconn: (conn: DenoConn) => Promise<void>): Promise<void> {
    while (!this._closed) {
      let conn: DenoConn
      try {
        conn = await this._listener.accept()
      } catch {
        // The listener was closed, or accept failed for a connection that is already gone.
        if (this._closed) return
        continue
      }
      void onconn(conn)
    }
  }

  async close(): Promise<void> {
    if (this._closed) return
    this._closed = true
    try {
      this._listener.close()
    } catch {
      // Already closed.
    }
  }
}

class DenoTcpSocket extends SocketBase implements TcpSocket {
  private _conn: DenoConn
  private _server: DenoTcpServer | null
  private _pending: WriteBuffer
  private _pumping: boolean
  private _full: boolean
  private _ending: boolean
  private _writeDone: boolean
  private _readDone: boolean
  private _paused: boolean
  private _resume: (() => void) | null
  private _readSize: number
  private _local: DenoAddr

  constructor(conn: DenoConn, encrypted: boolean, server: DenoTcpServer | null) {
    super(encrypted, conn.remoteAddr?.hostname, conn.remoteAddr?.port)
    this._conn = conn
    this._server = server
    this._pending = new WriteBuffer()
    this._pumping = false
    this._full = false
    this._ending = false
    this._writeDone = false
    this._readDone = false
    this._paused = false
    this._resume = null
    this._readSize = MIN_READ
    this._local = conn.localAddr
    if (server !== null) server.connections++
    // Start reading once the caller has had the chance to set its handlers.
    queueMicrotask(() => void this._readLoop())
  }

  get localAddress(): string | null {
    return this._local?.hostname ?? null
  }

  get localPort(): number | null {
    return this._local?.port ?? null
  }

  get bufferedBytes(): number {
    return this._pending.bytes
  }

  write(data: Uint8Array): boolean {
    if (this._closed || this._ending) return false
    this._pending.push(data)
    if (!this._pumping) void this._pump()
    if (this._pending.bytes >= DEFAULT_HIGH_WATER_MARK) this._full = true
    return !this._full
  }

  end(): void {
    if (this._closed || this._ending) return
    this._ending = true
    if (!this._pumping) void this._pump()
  }

  destroy(cause: ClusterError | null = null): void {
    if (this._closed) return
    this._setCause(cause)
    this._pending.clear()
    this._finish()
  }

  pause(): void {
    this._paused = true
  }

  resume(): void {
    this._paused = false
    const resume = this._resume
    this._resume = null
    resume?.()
  }

  setNoDelay(enable: boolean): void {
    this._conn.setNoDelay?.(enable)
  }

  setKeepAlive(enable: boolean): void {
    this._conn.setKeepAlive?.(enable)
  }

  private async _readLoop(): Promise<void> {
    let sinceYield = 0
    while (!this._closed) {
      if (sinceYield >= READ_BYTES_PER_TURN) {
        sinceYield = 0
        await new Promise<void>((resolve) => nextTurn(resolve))
        continue
      }
      if (this._paused) {
        await new Promise<void>((resolve) => {
          this._resume = resolve
        })
        continue
      }
      const buffer = new Uint8Array(this._readSize)
      let n: number | null
      try {
        n = await this._conn.read(buffer)
      } catch (err) {
        if (!this._closed) this._fail(err)
        return
      }
      if (n === null) {
        this._readDone = true
        this.onend?.()
        this._maybeClose()
        return
      }
      sinceYield += n
      if (n === this._readSize && this._readSize < MAX_READ) this._readSize *= 2
      else if (n < this._readSize / 4 && this._readSize > MIN_READ) this._readSize /= 2
      this.ondata?.(buffer.subarray(0, n))
    }
  }

  private async _pump(): Promise<void> {
    this._pumping = true
    while (!this._pending.empty && !this._closed) {
      const chunk = this._pending.peek()!
      let n: number
      try {
        n = await this._conn.write(chunk)
      } catch (err) {
        this._pumping = false
        this._fail(err)
        return
      }
      if (this._closed) break
      this._pending.consume(n)
    }
    this._pumping = false
    if (this._closed) return
    if (this._full) {
      this._full = false
      this.ondrain?.()
    }
    if (this._ending && this._pending.empty && !this._writeDone) {
      this._writeDone = true
      try {
        await this._conn.closeWrite()
      } catch {
        // The other side is gone already; the read side will tell.
      }
      this._maybeClose()
    }
  }

  private _fail(err: unknown): void {
    this._setError(err)
    this._finish()
  }

  private _maybeClose(): void {
    if (this._readDone && this._writeDone) this._finish()
  }

  private _finish(): void {
    if (this._closed) return
    this._closed = true
    closeQuietly(this._conn)
    this._resume?.()
    this._resume = null
    if (this._server !== null) this._server.connections--
    this._reportClose()
  }
}

function closeQuietly(conn: DenoConn): void {
  try {
    conn.close()
  } catch {
    // Already closed.
  }
}

function noUnverified(): never {
  throw ClusterError.TLS_UNSUPPORTED('Deno cannot turn certificate checks off per connection (rejectUnauthorized: false)')
}

function denoApi(): DenoApi {
  const deno = (globalThis as { Deno?: DenoApi }).Deno
  if (!deno) throw ClusterError.UNSUPPORTED_RUNTIME('denoTcpBackend runs on Deno only')
  return deno
}
