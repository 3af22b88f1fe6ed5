// TcpBackend on bare-tcp and bare-tls. Their addons come through `#bare-natives`, which is null
// outside Bare, so importing this file on another runtime loads nothing.

import natives from '#bare-natives'
import b4a from 'b4a'
import { ClusterError } from '../lib/errors.ts'
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

interface BareError {
  code?: string
  message?: string
}

export const bareTcpBackend: TcpBackend = {
  name: 'bare',
  // bare-tls servers neither request nor verify client certificates.
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
    const onerror = (err: BareError) => {
      reject(ClusterError.LISTEN_FAILED(`cannot listen on ${opts.host}:${opts.port}: ${describe(err)}`, err))
    }
    server.once('error', onerror)
    server.listen(opts.port, opts.host, () => {
      server.removeListener('error', onerror)
      resolve()
    })
  })
  server.on('error', (err: BareError) => opts.onerror?.(ClusterError.SOCKET_ERROR(describe(err), err)))
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
    const onerror = (err: BareError) => {
      cleanup()
      stream.destroy()
      raw.destroy()
      reject(ClusterError.CONNECT_FAILED(`${where}: ${describe(err)}`, err))
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

class BareTcpSocket implements TcpSocket {
  readonly encrypted: boolean
  ondata: ((chunk: Uint8Array) => void) | null
  ondrain: (() => void) | null
  onend: (() => void) | null
  onclose: ((cause: ClusterError | null) => void) | null
  private _raw: BareStream
  private _tcp: BareStream
  private _closed: boolean
  private _cause: ClusterError | null
  private _remoteAddress: string | null
  private _remotePort: number | null

  constructor(raw: BareStream, encrypted: boolean) {
    this.encrypted = encrypted
    this.ondata = null
    this.ondrain = null
    this.onend = null
    this.onclose = null
    this._raw = raw
    this._tcp = raw.socket ?? raw
    this._closed = false
    this._cause = null
    this._remoteAddress = this._tcp.remoteAddress ?? null
    this._remotePort = this._tcp.remotePort ?? null

    // streamx's default high-water mark is 16 KiB; match the contract's.
    if (raw._writableState) raw._writableState.highWaterMark = DEFAULT_HIGH_WATER_MARK
    raw.on('data', (chunk: Uint8Array) => this.ondata?.(chunk))
    raw.on('drain', () => this.ondrain?.())
    raw.on('end', () => this.onend?.())
    raw.on('error', (err: BareError) => {
      if (this._cause === null) this._cause = ClusterError.SOCKET_ERROR(describe(err), err)
    })
    raw.on('close', () => {
      this._closed = true
      if (this._tcp !== raw) this._tcp.destroy()
      const onclose = this.onclose
      this.onclose = null
      onclose?.(this._cause)
    })
  }

  get remoteAddress(): string | null {
    return this._remoteAddress
  }

  get remotePort(): number | null {
    return this._remotePort
  }

  get localAddress(): string | null {
    return this._tcp.localAddress ?? null
  }

  get localPort(): number | null {
    return this._tcp.localPort ?? null
  }

  get bufferedBytes(): number {
    const state = this._raw._writableState
    const inner = this._tcp !== this._raw ? (this._tcp._writableState?.buffered ?? 0) : 0
    return (state ? state.buffered : 0) + inner
  }

  get closed(): boolean {
    return this._closed
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
    if (cause !== null && this._cause === null) this._cause = cause
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

function applySocketOptions(socket: TcpSocket, opts: { noDelay?: boolean; keepAlive?: boolean }): void {
  if (opts.noDelay !== false) socket.setNoDelay(true)
  if (opts.keepAlive !== false) socket.setKeepAlive(true, 30_000)
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

function describe(err: BareError): string {
  return err.code ? `${err.code} ${err.message ?? ''}`.trim() : (err.message ?? String(err))
}
