// TcpBackend on node:net and node:tls. The modules are fetched when first used, through
// process.getBuiltinModule, so importing this file loads nothing on Bare.

import { ClusterError } from '../lib/errors.ts'
import { resolveTls, type ResolvedTls } from './tls-settings.ts'
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  type ConnectOptions,
  type ListenOptions,
  type TcpBackend,
  type TcpServer,
  type TcpSocket
} from './types.ts'

interface NodeSocket {
  remoteAddress?: string
  remotePort?: number
  localAddress?: string
  localPort?: number
  writableLength: number
  destroyed: boolean
  write(data: Uint8Array): boolean
  end(): void
  destroy(): void
  pause(): void
  resume(): void
  setNoDelay(enable: boolean): void
  setKeepAlive(enable: boolean, delay?: number): void
  on(event: string, fn: (...args: never[]) => void): void
  once(event: string, fn: (...args: never[]) => void): void
  removeListener(event: string, fn: (...args: never[]) => void): void
}

interface NodeServer {
  listen(opts: { host: string; port: number }, cb: () => void): void
  address(): { port: number; address: string } | string | null
  close(cb: () => void): void
  on(event: string, fn: (...args: never[]) => void): void
  once(event: string, fn: (...args: never[]) => void): void
  removeListener(event: string, fn: (...args: never[]) => void): void
}

interface NetModule {
  createServer(opts: object, onconnection: (s: NodeSocket) => void): NodeServer
  connect(opts: object): NodeSocket
  isIP(host: string): number
}

interface TlsModule {
  createServer(opts: object, onconnection: (s: NodeSocket) => void): NodeServer
  connect(opts: object): NodeSocket
}

interface NodeError {
  code?: string
  message?: string
}

let net: NetModule | null = null
let tls: TlsModule | null = null

export const nodeTcpBackend: TcpBackend = {
  name: 'node',
  verifiesClientCertificates: true,
  listen,
  connect
}

async function listen(opts: ListenOptions): Promise<TcpServer> {
  const settings = resolveTls(opts.tls)
  const net = netModule()
  const onsocket = (raw: NodeSocket) => {
    const socket = new NodeTcpSocket(raw, settings !== null)
    applySocketOptions(socket, opts)
    opts.onconnection(socket)
  }
  const server = settings
    ? tlsModule().createServer(tlsServerOptions(settings), onsocket)
    : net.createServer({ allowHalfOpen: true }, onsocket)

  // Failed TLS handshakes and sockets that die before they are handed over.
  server.on(settings ? 'tlsClientError' : 'clientError', (err: NodeError) => {
    opts.onerror?.(ClusterError.SOCKET_ERROR(describe(err), err))
  })

  await new Promise<void>((resolve, reject) => {
    const onerror = (err: NodeError) => {
      reject(ClusterError.LISTEN_FAILED(`cannot listen on ${opts.host}:${opts.port}: ${describe(err)}`, err))
    }
    server.once('error', onerror)
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.removeListener('error', onerror)
      resolve()
    })
  })
  server.on('error', (err: NodeError) => {
    opts.onerror?.(ClusterError.SOCKET_ERROR(describe(err), err))
  })
  return new NodeTcpServer(server, opts.host)
}

async function connect(opts: ConnectOptions): Promise<TcpSocket> {
  const settings = resolveTls(opts.tls)
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  const raw = settings
    ? tlsModule().connect(tlsClientOptions(settings, opts.host, opts.port))
    : netModule().connect({ host: opts.host, port: opts.port, allowHalfOpen: true })

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup()
      raw.destroy()
      reject(ClusterError.CONNECT_FAILED(`connecting to ${opts.host}:${opts.port} timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    const onconnect = () => {
      cleanup()
      resolve()
    }
    const onerror = (err: NodeError) => {
      cleanup()
      raw.destroy()
      reject(ClusterError.CONNECT_FAILED(`cannot connect to ${opts.host}:${opts.port}: ${describe(err)}`, err))
    }
    const event = settings ? 'secureConnect' : 'connect'
    function cleanup() {
      clearTimeout(timer)
      raw.removeListener(event, onconnect)
      raw.removeListener('error', onerror)
    }
    raw.once(event, onconnect)
    raw.once('error', onerror)
  })

  const socket = new NodeTcpSocket(raw, settings !== null)
  applySocketOptions(socket, opts)
  return socket
}

class NodeTcpServer implements TcpServer {
  readonly host: string
  readonly port: number
  private _server: NodeServer
  private _sockets: Set<NodeSocket>

  constructor(server: NodeServer, host: string) {
    const addr = server.address()
    this.host = host
    this.port = typeof addr === 'object' && addr !== null ? addr.port : 0
    this._server = server
    this._sockets = new Set()
    server.on('connection', (s: NodeSocket) => {
      this._sockets.add(s)
      s.once('close', () => this._sockets.delete(s))
    })
  }

  get connections(): number {
    return this._sockets.size
  }

  close(): Promise<void> {
    // node's close() waits for every connection to end; the contract leaves them to the caller,
    // so resolve once the listening socket itself is gone.
    return new Promise((resolve) => {
      let done = false
      const finish = () => {
        if (done) return
        done = true
        resolve()
      }
      this._server.close(finish)
      queueMicrotask(() => {
        if (this._sockets.size > 0) setTimeout(finish, 0)
      })
    })
  }
}

class NodeTcpSocket implements TcpSocket {
  readonly encrypted: boolean
  ondata: ((chunk: Uint8Array) => void) | null
  ondrain: (() => void) | null
  onend: (() => void) | null
  onclose: ((cause: ClusterError | null) => void) | null
  private _raw: NodeSocket
  private _closed: boolean
  private _cause: ClusterError | null
  private _remoteAddress: string | null
  private _remotePort: number | null

  constructor(raw: NodeSocket, encrypted: boolean) {
    this.encrypted = encrypted
    this.ondata = null
    this.ondrain = null
    this.onend = null
    this.onclose = null
    this._raw = raw
    this._closed = false
    this._cause = null
    this._remoteAddress = raw.remoteAddress ?? null
    this._remotePort = raw.remotePort ?? null

    raw.on('data', (chunk: Uint8Array) => this.ondata?.(chunk))
    raw.on('drain', () => this.ondrain?.())
    raw.on('end', () => this.onend?.())
    raw.on('error', (err: NodeError) => {
      if (this._cause === null) this._cause = ClusterError.SOCKET_ERROR(describe(err), err)
    })
    raw.on('close', () => {
      this._closed = true
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
    return this._raw.localAddress ?? null
  }

  get localPort(): number | null {
    return this._raw.localPort ?? null
  }

  get bufferedBytes(): number {
    return this._raw.writableLength
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
    this._raw.setNoDelay(enable)
  }

  setKeepAlive(enable: boolean, initialDelayMs = 0): void {
    this._raw.setKeepAlive(enable, initialDelayMs)
  }
}

function applySocketOptions(socket: TcpSocket, opts: { noDelay?: boolean; keepAlive?: boolean }): void {
  if (opts.noDelay !== false) socket.setNoDelay(true)
  if (opts.keepAlive !== false) socket.setKeepAlive(true, 30_000)
}

function tlsServerOptions(s: ResolvedTls): object {
  return {
    cert: s.cert,
    key: s.key,
    ca: s.ca ?? undefined,
    // Mutual TLS: ask every dialler for a certificate and refuse those the CA did not sign.
    requestCert: s.rejectUnauthorized,
    rejectUnauthorized: s.rejectUnauthorized,
    allowHalfOpen: true
  }
}

function tlsClientOptions(s: ResolvedTls, host: string, port: number): object {
  const serverName = s.serverName ?? (netModule().isIP(host) ? undefined : host)
  return {
    host,
    port,
    cert: s.cert,
    key: s.key,
    ca: s.ca ?? undefined,
    rejectUnauthorized: s.rejectUnauthorized,
    servername: serverName,
    allowHalfOpen: true
  }
}

function netModule(): NetModule {
  if (net === null) net = builtin<NetModule>('node:net')
  return net
}

function tlsModule(): TlsModule {
  if (tls === null) tls = builtin<TlsModule>('node:tls')
  return tls
}

function builtin<T>(name: string): T {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  const mod = proc?.getBuiltinModule?.(name)
  if (!mod) throw ClusterError.UNSUPPORTED_RUNTIME(`${name} is not available on this runtime`)
  return mod as T
}

function describe(err: NodeError): string {
  return err.code ? `${err.code} ${err.message ?? ''}`.trim() : (err.message ?? String(err))
}
