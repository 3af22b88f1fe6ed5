// A named channel over the cluster's connections, for applications and higher layers (pub/sub,
// replicated data, the actor system's own signals). Its messages ride the `subsystem` wire kind,
// so they share the one connection per pair of nodes with everything else.

import type { NodeAddress } from '../node-address.ts'
import type { WireMessage } from '../wire/index.ts'
import type { Member } from './membership.ts'

export type ChannelHandler = (from: NodeAddress, body: Uint8Array) => void

/** What a channel needs of its cluster. */
export interface ChannelHost {
  readonly self: NodeAddress
  send(to: NodeAddress, msg: WireMessage): void
  members(): Member[]
  /** @internal */
  _closeChannel(channel: Channel): void
}

/**
 * A named channel over the cluster's connections (`cluster.channel(name, onmessage)`): bytes to
 * one member or all, delivered to the channel of the same name on the other side.
 */
export class Channel {
  /** The channel's name; one channel per name per node. */
  readonly name: string
  /** Called for every message on this channel; while null, arrivals are counted as unhandled. */
  onmessage: ChannelHandler | null
  private _host: ChannelHost
  private _closed: boolean

  /** Made by `cluster.channel(name, onmessage)`. */
  constructor(host: ChannelHost, name: string, onmessage: ChannelHandler | null) {
    this.name = name
    this.onmessage = onmessage
    this._host = host
    this._closed = false
  }

  /** True once `close()` has run. */
  get closed(): boolean {
    return this._closed
  }

  /** Sends `body` to the channel of this name on `to` (a node without it counts it unhandled). */
  send(to: NodeAddress, body: Uint8Array): void {
    this._host.send(to, { kind: 'subsystem', channel: this.name, body })
  }

  /** Sends to every other member that is up (or leaving) and reachable; returns how many. */
  broadcast(body: Uint8Array): number {
    let sent = 0
    for (const m of this._host.members()) {
      if (m.address.equals(this._host.self) || !m.reachable || (m.status !== 'up' && m.status !== 'leaving')) continue
      this.send(m.address, body)
      sent++
    }
    return sent
  }

  /** Closes the channel here; the name can be opened again. */
  close(): void {
    if (this._closed) return
    this._closed = true
    this.onmessage = null
    this._host._closeChannel(this)
  }
}
