// A stand-in for Hyperswarm that a test drives by hand: it opens the connections the test asks
// for, when it asks, so the connection cases hyperswarm produces now and then (a dial the other
// side never saw, a second connection for one key, a replacement that cuts the first mid-stream)
// happen every run. Given to SwarmTransport as its `swarm`.
import EventEmitter from 'bare-events'

export class StandInSwarm extends EventEmitter {
  constructor(keyPair) {
    super()
    this.keyPair = keyPair
    // Keys asked for with joinPeer, in order.
    this.asked = []
    // Called with each key asked for; a test opens connections from here.
    this.onjoinpeer = null
  }

  join() {
    return { flushed: async () => {}, refresh: async () => {}, destroy: async () => {} }
  }

  joinPeer(publicKey) {
    this.asked.push(publicKey)
    if (this.onjoinpeer !== null) this.onjoinpeer(publicKey)
  }

  leavePeer() {}

  async destroy() {}
}

// One end of a connection between two stand-in swarms. Writes reach the other end a macrotask
// later, in order; what is still under way when the connection is destroyed is lost.
class StandInStream extends EventEmitter {
  constructor(publicKey, remotePublicKey, isInitiator) {
    super()
    this.publicKey = publicKey
    this.remotePublicKey = remotePublicKey
    this.isInitiator = isInitiator
    this.rawStream = null
    this.destroyed = false
    this.other = null
    this.ended = false
    // Writes not yet delivered, and those lost when the connection was destroyed.
    this.underWay = 0
    this.lost = 0
    // Replaced when the connection is destroyed: deliveries of an earlier run are then dropped.
    this._run = {}
  }

  write(data) {
    if (this.destroyed) return false
    const other = this.other
    // No other end: the other side never saw this connection.
    if (other === null) return true
    const copy = data.slice()
    const run = this._run
    this.underWay++
    setTimeout(() => {
      if (run !== this._run || other.destroyed) return
      this.underWay--
      other.emit('data', copy)
    }, 0)
    return true
  }

  end() {
    if (this.destroyed || this.ended) return
    this.ended = true
    const other = this.other
    setTimeout(() => {
      if (other === null || other.destroyed) return
      other.emit('end')
      if (other.ended) {
        this.destroy()
        other.destroy()
      }
    }, 0)
  }

  destroy() {
    if (this.destroyed) return
    this.destroyed = true
    // Writes under way are lost with the connection.
    this.lost = this.underWay
    this.underWay = 0
    this._run = {}
    setTimeout(() => this.emit('close'), 0)
    if (this.other !== null) this.other.destroy()
  }

  pause() {}
  resume() {}
  setKeepAlive() {}
  setTimeout() {}
}

/**
 * Opens a connection from swarm `from` to swarm `to`: each side's transport is handed its end.
 * With `seen: false` only the dialler gets one (the other side never saw it). Returns both ends.
 */
export function connect(from, to, { seen = true } = {}) {
  const dialler = new StandInStream(from.keyPair.publicKey, to.keyPair.publicKey, true)
  let listener = null
  if (seen) {
    listener = new StandInStream(to.keyPair.publicKey, from.keyPair.publicKey, false)
    dialler.other = listener
    listener.other = dialler
  }
  from.emit('connection', dialler, {})
  if (listener !== null) to.emit('connection', listener, {})
  return { dialler, listener }
}
