// Bytes a socket took from the caller but the runtime has not yet accepted, in order. Used by
// backends whose write may take only part of a buffer (Bun, Deno).

export class WriteBuffer {
  bytes: number
  private _chunks: Uint8Array[]
  private _head: number

  constructor() {
    this.bytes = 0
    this._chunks = []
    this._head = 0
  }

  get empty(): boolean {
    return this.bytes === 0
  }

  push(data: Uint8Array): void {
    if (data.byteLength === 0) return
    this._chunks.push(data)
    this.bytes += data.byteLength
  }

  /** The oldest pending bytes. */
  peek(): Uint8Array | null {
    return this._head < this._chunks.length ? this._chunks[this._head]! : null
  }

  /** Marks `n` bytes of the oldest chunk as written. */
  consume(n: number): void {
    const first = this._chunks[this._head]!
    this.bytes -= n
    if (n < first.byteLength) {
      this._chunks[this._head] = first.subarray(n)
      return
    }
    this._head++
    if (this._head === this._chunks.length) {
      this._chunks = []
      this._head = 0
    } else if (this._head > 64 && this._head * 2 > this._chunks.length) {
      this._chunks = this._chunks.slice(this._head)
      this._head = 0
    }
  }

  clear(): void {
    this._chunks = []
    this._head = 0
    this.bytes = 0
  }
}
