// TcpBackend on bare-tcp and bare-tls. Their addons come through `#bare-natives`, which is null
// outside Bare, so importing this file on another runtime loads nothing.

import natives from '#bare-natives'
import b4a from 'b4a'
import { ClusterError } from '../lib/errors.ts'
import { SocketBase, applySocketOptions, describeError } from './socket-base.ts'
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

type Listener = (...args: never[]) => void

interface BareStream {
  remoteAddress?: string | null
  remotePort?: number | null
  localAddress?: string | null
  localPort?: number | null
  destroyed: boolean
  _writableState: { buffered: number; highWaterMark: number } | null
  write(data: Uint8Array): boolean
  end(): void
  destroy(err?: Error): void
  pause(): void
  resume(): void
  setNoDelay?(enable: boolean): void
  setKeepAlive?(enable: boolean, delay?: number): void
  socket?: BareStream
  on(event: string, fn: Listener): void
  once(event: string, fn: Listener): void
  removeListener(event: string, fn: Listener): void
}

interface BareServer {
  listen(port: number, host: string, cb: () => void): void
  address(): { port: number; address: string } | null
  close(cb?: () => void): void
  readonly connections: Set<unknown>
  on(event: string, fn: Listener): void
  once(event: string, fn: Listener): void
  removeListener(event: string, fn: Listener): void
}

interface BareNatives {
  tcp: {
    createServer(opts: object, onconnection: (s: BareStream) => void): BareServer
    createConnection(opts: object): BareStream
    isIP(host: string): number
  }
  tls: {
    Socket: new (socket: BareStream, opts: object) => BareStream
  }
}

export const bareTcpBackend: TcpBackend = {
  name: 'bare',
  /** bare-tls servers neither request nor verify client certificates. */
  verifiesClientCertificates: false,
  listen,
  connect
}

async function listen(opts: ListenOptions): Promise<TcpServer> {
  const { tcp, tls } = loadNatives()
  const settings = resolveTls(opts.tls)

  const server = tcp.createServer({ allowHalfOpen: true }, (raw) => {
    if (settings === null) {
      hand(raw, false)
      return
    }
    const secure = new tls.Socket(raw, {
      isServer: true,
      cert: encode(settings.cert),
      key: encode(settings.key),
      allowHalfOpen: true
    })
    waitForHandshake(secure, raw, DEFAULT_CONNECT_TIMEOUT_MS).then(
      () => hand(secure, true),
      (err: ClusterError) => opts.onerror?.(err)
    )
  })

  function hand(raw: BareStream, encrypted: boolean) {
    const socket = new BareTcpSocket(raw, encrypted)
    applySocketOptions(socket, opts)
    opts.onconnection(socket)
  }

  await new Promise<void>((resolve, reject) => {
    const onerror = (err: unknown) => {
      reject(ClusterError.LISTEN_FAILED(`cannot listen on ${opts.host}:${opts.port}: ${describeError(err)}`, err))
    }
    server.once('error', onerror)
    server.listen(opts.port, opts.host, () => {
      server.removeListener('error', onerror)
      resolve()
    })
  })
  server.on('error', (err: unknown) => opts.onerror?.(ClusterError.SOCKET_ERROR(describeError(err), err)))
  return new BareTcpServer(server, opts.host)
}

async function connect(opts: ConnectOptions): Promise<TcpSocket> {
  const { tcp, tls } = loadNatives()
  const settings = resolveTls(opts.tls)
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  const raw = tcp.createConnection({ host: opts.host, port: opts.port, allowHalfOpen: true })

  await waitFor(raw, 'connect', raw, timeoutMs, opts)
  if (settings === null) return wrap(raw, false, opts)

  const secure = new tls.Socket(raw, tlsClientOptions(settings, opts.host, tcp.isIP(opts.host) !== 0))
  await waitForHandshake(secure, raw, timeoutMs, opts)
  return wrap(secure, true, opts)
}

function wrap(raw: BareStream, encrypted: boolean, opts: ConnectOptions): TcpSocket {
  const socket = new BareTcpSocket(raw, encrypted)
  applySocketOptions(socket, opts)
  return socket
}

function waitForHandshake(
  secure: BareStream,
  raw: BareStream,
  timeoutMs: number,
  target?: { host: string; port: number }
): Promise<void> {
  return waitFor(secure, 'connect', raw, timeoutMs, target)
}

function waitFor(
  stream: BareStream,
  event: string,
  raw: BareStream,
  timeoutMs: number,
  target?: { host: string; port: number }
): Promise<void> {
  const where = target ? `${target.host}:${target.port}` : 'an inbound connection'
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup()
      stream.destroy()
      raw.destroy()
      reject(ClusterError.CONNECT_FAILED(`${where}: timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    const ondone = () => {
      cleanup()
      resolve()
    }
    const onerror = (err: unknown) => {
      cleanup()
      stream.destroy()
      raw.destroy()
      reject(ClusterError.CONNECT_FAILED(`${where}: ${describeError(err)}`, err))
    }
    const onclose = () => onerror({ code: 'ECONNRESET', message: 'closed before it was ready' })
    function cleanup() {
      clearTimeout(timer)
      stream.removeListener(event, ondone)
      stream.removeListener('error', onerror)
      stream.removeListener('close', onclose)
    }
    stream.once(event, ondone)
    stream.once('error', onerror)
    stream.once('close', onclose)
  })
}

class BareTcpServer implements TcpServer {
  readonly host: string
  readonly port: number
  private _server: BareServer

  constructor(server: BareServer, host: string) {
    this.host = host
    this.port = server.address()?.port ?? 0
    this._server = server
  }

  get connections(): number {
    return this._server.connections.size
  }

  close(): Promise<void> {
    // bare-tcp's close waits for open connections; the contract leaves those to the caller.
    return new Promise((resolve) => {
      let done = false
      const finish = () => {
        if (done) return
        done = true
        resolve()
      }
      this._server.close(finish)
      if (this._server.connections.size > 0) setTimeout(finish, 0)
    })
  }
}

class BareTcpSocket extends SocketBase implements TcpSocket {
  private _raw: BareStream
  /** The TCP socket under a TLS one (or the socket itself). */
  private _tcp: BareStream

  constructor(raw: BareStream, encrypted: boolean) {
    const tcp = raw.socket ?? raw
    super(encrypted, tcp.remoteAddress, tcp.remotePort)
    this._raw = raw
    this._tcp = tcp
    // streamx's default high-water mark is 16 KiB; match the contract's.
    if (raw._writableState) raw._writableState.highWaterMark = DEFAULT_HIGH_WATER_MARK
    raw.on('data', (chunk: Uint8Array) => this.ondata?.(chunk))
    raw.on('drain', () => this.ondrain?.())
    raw.on('end', () => this.onend?.())
    raw.on('error', (err: unknown) => this._setError(err))
    raw.on('close', () => {
      if (this._tcp !== raw) this._tcp.destroy()
      this._reportClose()
    })
  }

  get localAddress(): string | null {
    return this._tcp.localAddress ?? null
  }

  get localPort(): number | null {
    return this._tcp.localPort ?? null
  }

  get bufferedBytes(): number {
    const own = this._raw._writableState?.buffered ?? 0
    return this._tcp === this._raw ? own : own + (this._tcp._writableState?.buffered ?? 0)
  }

  write(data: Uint8Array): boolean {
    if (this._closed || this._raw.destroyed) return false
    return this._raw.write(data)
  }

  end(): void {
    if (!this._closed) this._raw.end()
  }

  destroy(cause: ClusterError | null = null): void {
    if (this._closed) return
    this._setCause(cause)
    this._raw.destroy()
  }

  pause(): void {
    this._raw.pause()
  }

  resume(): void {
    this._raw.resume()
  }

  setNoDelay(enable: boolean): void {
    this._tcp.setNoDelay?.(enable)
  }

  setKeepAlive(enable: boolean, initialDelayMs = 0): void {
    this._tcp.setKeepAlive?.(enable, initialDelayMs)
  }
}

function tlsClientOptions(s: ResolvedTls, host: string, hostIsIp: boolean): object {
  return {
    isServer: false,
    cert: encode(s.cert),
    key: encode(s.key),
    ca: s.ca === null ? undefined : encode(s.ca),
    rejectUnauthorized: s.rejectUnauthorized,
    host: s.serverName ?? (hostIsIp || s.rejectUnauthorized ? host : undefined),
    allowHalfOpen: true
  }
}

function loadNatives(): BareNatives {
  if (natives === null || typeof natives !== 'object') {
    throw ClusterError.UNSUPPORTED_RUNTIME('bareTcpBackend runs on Bare only')
  }
  return natives as BareNatives
}

function encode(text: string): Uint8Array {
  return b4a.from(text, 'utf8')
}
