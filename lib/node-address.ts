import { ClusterError } from './errors.ts'
import { decodeZ32, encodeZ32 } from './z-base-32.ts'

const SCHEMES = ['actor-cluster', 'actor-ts', 'actor-cluster+hs'] as const
const DEFAULT_SCHEME = 'actor-cluster'
/** The scheme of a node named by its public key and found through hyperswarm. */
export const KEY_SCHEME = 'actor-cluster+hs'
const PUBLIC_KEY_BYTES = 32
const MAX_ADDRESS_LENGTH = 512
const INSPECT = Symbol.for('nodejs.util.inspect.custom')
const DENO_INSPECT = Symbol.for('Deno.customInspect')

export type AddressScheme = (typeof SCHEMES)[number]

/**
 * `<scheme>://<system>@<host>:<port>`; IPv6 hosts are bracketed: `actor-cluster://app@[::1]:2552`.
 * A node found through hyperswarm is named by its public key instead, with no port:
 * `actor-cluster+hs://<system>@<z-base-32 public key>`.
 */
export class NodeAddress {
  /**
   * `actor-cluster` (or `actor-ts`, read for compatibility), or `actor-cluster+hs` for a node
   * named by its key. Between the first two only spelling, never compared.
   */
  readonly scheme: AddressScheme
  /** The actor system's name, which is the cluster's name. */
  readonly system: string
  /**
   * The host the node is reached at: a name, an IPv4 address or an unbracketed IPv6 one; for a
   * node named by its key, the key in z-base-32.
   */
  readonly host: string
  /** The port the node listens on (0 for a node named by its key). */
  readonly port: number
  /** A key for maps: `system@host:port`, or `system@<public key>` for a node named by its key. */
  readonly key: string
  /** The node's Ed25519 public key (32 bytes) when it is named by it, else null. */
  readonly publicKey: Uint8Array | null
  private _string: string

  /** Throws BAD_ADDRESS for a bad system name, host or port. */
  constructor(system: string, host: string, port: number, scheme: AddressScheme = DEFAULT_SCHEME) {
    if (!isSystemName(system)) throw ClusterError.BAD_ADDRESS(`bad system name ${JSON.stringify(system)}`)
    this.scheme = scheme
    this.system = system
    if (scheme === KEY_SCHEME) {
      const publicKey = typeof host === 'string' ? decodeZ32(host, PUBLIC_KEY_BYTES) : null
      if (publicKey === null) throw ClusterError.BAD_ADDRESS(`bad public key ${JSON.stringify(String(host).slice(0, 80))}: 32 bytes in z-base-32`)
      if (port !== 0) throw ClusterError.BAD_ADDRESS('a node named by its key has no port')
      this.host = host
      this.port = 0
      this.publicKey = publicKey
      this.key = `${system}@${host}`
      this._string = `${scheme}://${system}@${host}`
      return
    }
    if (!isHost(host)) throw ClusterError.BAD_ADDRESS(`bad host ${JSON.stringify(host)}`)
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw ClusterError.BAD_ADDRESS(`bad port ${port}`)
    }
    this.host = host
    this.port = port
    this.publicKey = null
    this.key = `${system}@${host}:${port}`
    this._string = `${scheme}://${system}@${host.includes(':') ? `[${host}]` : host}:${port}`
  }

  /** The address of the node of `system` whose public key is `publicKey` (32 bytes). */
  static ofKey(system: string, publicKey: Uint8Array): NodeAddress {
    if (!(publicKey instanceof Uint8Array) || publicKey.byteLength !== PUBLIC_KEY_BYTES) {
      throw ClusterError.BAD_ADDRESS('a public key is 32 bytes')
    }
    return new NodeAddress(system, encodeZ32(publicKey), 0, KEY_SCHEME)
  }

  /** Whether the node is named by its public key (and found through hyperswarm). */
  get byKey(): boolean {
    return this.publicKey !== null
  }

  /** Reads `actor-cluster://app@127.0.0.1:2552`; throws BAD_ADDRESS for anything else. */
  static parse(input: string): NodeAddress {
    if (typeof input !== 'string' || input.length > MAX_ADDRESS_LENGTH) {
      throw ClusterError.BAD_ADDRESS('address must be a string of at most 512 characters')
    }
    const sep = input.indexOf('://')
    if (sep === -1) throw ClusterError.BAD_ADDRESS(`missing scheme in ${JSON.stringify(input)}`)
    const scheme = input.slice(0, sep)
    if (!isScheme(scheme)) throw ClusterError.BAD_ADDRESS(`unknown scheme ${JSON.stringify(scheme)}`)
    const rest = input.slice(sep + 3)
    const at = rest.indexOf('@')
    if (at === -1) throw ClusterError.BAD_ADDRESS(`missing system in ${JSON.stringify(input)}`)
    if (scheme === KEY_SCHEME) return new NodeAddress(rest.slice(0, at), rest.slice(at + 1), 0, scheme)
    const { host, port } = parseHostPort(rest.slice(at + 1))
    return new NodeAddress(rest.slice(0, at), host, port, scheme)
  }

  /** Accepts a full address or `host:port` (then `system` names the system). */
  static from(input: string | NodeAddress, system: string): NodeAddress {
    if (input instanceof NodeAddress) return input
    if (input.includes('://')) return NodeAddress.parse(input)
    const { host, port } = parseHostPort(input)
    return new NodeAddress(system, host, port)
  }

  /** The same address on another port (BAD_ADDRESS for a node named by its key). */
  withPort(port: number): NodeAddress {
    if (this.byKey) throw ClusterError.BAD_ADDRESS('a node named by its key has no port')
    return new NodeAddress(this.system, this.host, port, this.scheme)
  }

  /**
   * Addresses are equal when they name the same system on the same host and port, or by the
   * same key; between `actor-cluster` and `actor-ts` the scheme is only spelling.
   */
  equals(other: NodeAddress | null | undefined): boolean {
    if (!other) return false
    return this.port === other.port && this.host === other.host && this.system === other.system && this.byKey === other.byKey
  }

  /** Orders by host, then port, then system: the order members are listed and leaders chosen in. */
  compare(other: NodeAddress): number {
    if (this.byKey !== other.byKey) return this.byKey ? 1 : -1
    if (this.host !== other.host) return this.host < other.host ? -1 : 1
    if (this.port !== other.port) return this.port - other.port
    if (this.system !== other.system) return this.system < other.system ? -1 : 1
    return 0
  }

  /** The address as written: `actor-cluster://app@127.0.0.1:2552`. */
  toString(): string {
    return this._string
  }

  /** The address as written, so it serializes as a string. */
  toJSON(): string {
    return this._string
  }

  /**
   * What console.log and util.inspect show: the address, not the fields behind it (Node, Bun and
   * Bare read the first symbol, Deno the second).
   */
  [INSPECT](): string {
    return `NodeAddress(${this._string})`
  }

  /** What Deno's console.log shows: the address. */
  [DENO_INSPECT](): string {
    return `NodeAddress(${this._string})`
  }
}

export function parseHostPort(input: string): { host: string; port: number } {
  let host: string
  let portText: string
  if (input.startsWith('[')) {
    const close = input.indexOf(']')
    if (close === -1 || input[close + 1] !== ':') throw ClusterError.BAD_ADDRESS(`bad host:port ${JSON.stringify(input)}`)
    host = input.slice(1, close)
    portText = input.slice(close + 2)
  } else {
    const colon = input.lastIndexOf(':')
    if (colon === -1) throw ClusterError.BAD_ADDRESS(`missing port in ${JSON.stringify(input)}`)
    host = input.slice(0, colon)
    portText = input.slice(colon + 1)
  }
  if (!/^[0-9]{1,5}$/.test(portText)) throw ClusterError.BAD_ADDRESS(`bad port in ${JSON.stringify(input)}`)
  return { host, port: Number(portText) }
}

function isScheme(s: string): s is AddressScheme {
  return (SCHEMES as readonly string[]).includes(s)
}

export function isSystemName(s: string): boolean {
  return typeof s === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(s)
}

function isHost(s: string): boolean {
  return typeof s === 'string' && s.length > 0 && s.length <= 255 && /^[A-Za-z0-9_.:%-]+$/.test(s)
}
