// TcpBackend on node:net and node:tls. The modules are fetched when first used, through
// process.getBuiltinModule, so importing this file loads nothing on Bare.

import { ClusterError } from '../lib/errors.ts'
import { SocketBase, applySocketOptions, builtinModule, describeError } from './socket-base.ts'
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
  server.on(settings ? 'tlsClientError' : 'clientError', (err: unknown) => {
    opts.onerror?.(ClusterError.SOCKET_ERROR(describeError(err), err))
  })

  await new Promise<void>((resolve, reject) => {
    const onerror = (err: unknown) => {
      reject(ClusterError.LISTEN_FAILED(`cannot listen on ${opts.host}:${opts.port}: ${describeError(err)}`, err))
    }
    server.once('error', onerror)
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.removeListener('error', onerror)
      resolve()
    })
  })
  server.on('error', (err: unknown) => {
    opts.onerror?.(ClusterError.SOCKET_ERROR(describeError(err), err))
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
    const onerror = (err: unknown) => {
      cleanup()
      raw.destroy()
      reject(ClusterError.CONNECT_FAILED(`cannot connect to ${opts.host}:${opts.port}: ${describeError(err)}`, err))
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

class NodeTcpSocket extends SocketBase implements TcpSocket {
  private _raw: NodeSocket

  constructor(raw: NodeSocket, encrypted: boolean) {
    super(encrypted, raw.remoteAddress, raw.remotePort)
    this._raw = raw
    raw.on('data', (chunk: Uint8Array) => this.ondata?.(chunk))
    raw.on('drain', () => this.ondrain?.())
    raw.on('end', () => this.onend?.())
    raw.on('error', (err: unknown) => this._setError(err))
    raw.on('close', () => this._reportClose())
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
    this._raw.setNoDelay(enable)
  }

  setKeepAlive(enable: boolean, initialDelayMs = 0): void {
    this._raw.setKeepAlive(enable, initialDelayMs)
  }
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
  if (net === null) net = builtinModule<NetModule>('node:net')
  return net
}

function tlsModule(): TlsModule {
  if (tls === null) tls = builtinModule<TlsModule>('node:tls')
  return tls
}
