// Every error the package throws or emits is a ClusterError with a stable code.
// Tests and users match on `err.code`; the message is for people.

export const ErrorCode = {
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  BAD_FRAME: 'BAD_FRAME',
  UNKNOWN_KIND: 'UNKNOWN_KIND',
  BAD_VERSION: 'BAD_VERSION',
  BAD_ADDRESS: 'BAD_ADDRESS',
  BAD_OPTIONS: 'BAD_OPTIONS',
  HANDSHAKE_TIMEOUT: 'HANDSHAKE_TIMEOUT',
  HANDSHAKE_FAILED: 'HANDSHAKE_FAILED',
  AUTH_FAILED: 'AUTH_FAILED',
  CLUSTER_MISMATCH: 'CLUSTER_MISMATCH',
  ASK_TIMEOUT: 'ASK_TIMEOUT',
  UNREACHABLE: 'UNREACHABLE',
  CONNECT_FAILED: 'CONNECT_FAILED',
  LISTEN_FAILED: 'LISTEN_FAILED',
  SOCKET_ERROR: 'SOCKET_ERROR',
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
  TLS_CONFIG: 'TLS_CONFIG',
  TLS_UNSUPPORTED: 'TLS_UNSUPPORTED',
  UNSUPPORTED_RUNTIME: 'UNSUPPORTED_RUNTIME',
  QUEUE_FULL: 'QUEUE_FULL',
  TOO_MANY_CONNECTIONS: 'TOO_MANY_CONNECTIONS',
  STALLED: 'STALLED',
  STALE_INCARNATION: 'STALE_INCARNATION',
  REASSEMBLY_FULL: 'REASSEMBLY_FULL',
  TRANSPORT_CLOSED: 'TRANSPORT_CLOSED',
  BAD_MESSAGE: 'BAD_MESSAGE',
  NOT_SERIALIZABLE: 'NOT_SERIALIZABLE',
  UNKNOWN_MANIFEST: 'UNKNOWN_MANIFEST',
  BAD_PATH: 'BAD_PATH',
  NAME_TAKEN: 'NAME_TAKEN',
  NO_RECIPIENT: 'NO_RECIPIENT',
  ACTOR_FAILED: 'ACTOR_FAILED',
  SYSTEM_STOPPED: 'SYSTEM_STOPPED',
  CHANNEL_TAKEN: 'CHANNEL_TAKEN',
  READY_TIMEOUT: 'READY_TIMEOUT',
  SHARD_COUNT_MISMATCH: 'SHARD_COUNT_MISMATCH',
  BAD_RECORD: 'BAD_RECORD',
  MEMBERSHIP_FULL: 'MEMBERSHIP_FULL',
  TLS_MISMATCH: 'TLS_MISMATCH',
  SWARM_UNSUPPORTED: 'SWARM_UNSUPPORTED',
  KEY_MISMATCH: 'KEY_MISMATCH'
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

export interface ClusterErrorOptions {
  cause?: unknown
}

/**
 * The one error class of the package: everything it throws, rejects with or reports. Match on
 * `code` (one of `ErrorCode`); the message, `` `${code}: ...` ``, is for people. Each code has a
 * static factory of its name.
 */
export class ClusterError extends Error {
  /** The stable code: what tests and programs match on. */
  readonly code: ErrorCode

  /**
   * @param code one of `ErrorCode`
   * @param msg what happened; the message becomes `` `${code}: ${msg}` ``
   * @param opts `cause`: the error underneath
   */
  constructor(code: ErrorCode, msg: string, opts: ClusterErrorOptions = {}) {
    super(`${code}: ${msg}`, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
  }

  /** Always `'ClusterError'`. */
  override get name(): string {
    return 'ClusterError'
  }

  /**
   * `err` itself when it is a ClusterError already, otherwise a ClusterError with `code`, the
   * message of `err` and `err` as its cause. Every conversion of an unknown error goes here.
   */
  static from(err: unknown, code: ErrorCode): ClusterError {
    if (err instanceof ClusterError) return err
    return new ClusterError(code, err instanceof Error ? err.message : String(err), { cause: err })
  }

  /**
   * A frame longer than the receiver's `maxFrameBytes`, refused when its length prefix arrives, or
   * a message that can never fit one, refused at `send`.
   * @param msg what happened, after the code
   * @default msg 'frame exceeds the maximum frame size'
   */
  static FRAME_TOO_LARGE(msg = 'frame exceeds the maximum frame size'): ClusterError {
    return new ClusterError(ErrorCode.FRAME_TOO_LARGE, msg)
  }

  /**
   * Bytes from a peer that do not decode as a frame or a wire message; that connection is closed.
   * @param msg what happened, after the code
   * @default msg 'malformed frame'
   * @param cause the error underneath, kept as `err.cause`
   */
  static BAD_FRAME(msg = 'malformed frame', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.BAD_FRAME, msg, { cause })
  }

  /**
   * A frame whose message kind this version does not know; that connection is closed.
   * @param msg what happened, after the code
   * @default msg 'unknown message kind'
   */
  static UNKNOWN_KIND(msg = 'unknown message kind'): ClusterError {
    return new ClusterError(ErrorCode.UNKNOWN_KIND, msg)
  }

  /**
   * A hello whose wire version range does not overlap this node's; the message gives both ranges.
   * @param msg what happened, after the code
   * @default msg 'unsupported wire version'
   */
  static BAD_VERSION(msg = 'unsupported wire version'): ClusterError {
    return new ClusterError(ErrorCode.BAD_VERSION, msg)
  }

  /**
   * A node address or `host:port` that does not parse.
   * @param msg what happened, after the code
   * @default msg 'malformed node address'
   */
  static BAD_ADDRESS(msg = 'malformed node address'): ClusterError {
    return new ClusterError(ErrorCode.BAD_ADDRESS, msg)
  }

  /**
   * An option out of range or of the wrong type; the message names it.
   * @param msg what happened, after the code
   * @default msg 'invalid options'
   */
  static BAD_OPTIONS(msg = 'invalid options'): ClusterError {
    return new ClusterError(ErrorCode.BAD_OPTIONS, msg)
  }

  /**
   * A connection that did not finish its hello within `handshakeTimeoutMs`; it is closed.
   * @param msg what happened, after the code
   * @default msg 'handshake did not complete in time'
   */
  static HANDSHAKE_TIMEOUT(msg = 'handshake did not complete in time'): ClusterError {
    return new ClusterError(ErrorCode.HANDSHAKE_TIMEOUT, msg)
  }

  /**
   * A handshake that went wrong: a message out of order, the wrong node answering a dial, or a
   * peer that refused this one (the reason follows).
   * @param msg what happened, after the code
   * @default msg 'handshake failed'
   */
  static HANDSHAKE_FAILED(msg = 'handshake failed'): ClusterError {
    return new ClusterError(ErrorCode.HANDSHAKE_FAILED, msg)
  }

  /**
   * A peer without the cluster secret, or with another one; the message says which side lacks it.
   * @param msg what happened, after the code
   * @default msg 'peer failed authentication'
   */
  static AUTH_FAILED(msg = 'peer failed authentication'): ClusterError {
    return new ClusterError(ErrorCode.AUTH_FAILED, msg)
  }

  /**
   * A peer that belongs to a cluster of another name; the message names both names.
   * @param msg what happened, after the code
   * @default msg 'peer belongs to another cluster'
   */
  static CLUSTER_MISMATCH(msg = 'peer belongs to another cluster'): ClusterError {
    return new ClusterError(ErrorCode.CLUSTER_MISMATCH, msg)
  }

  /**
   * No reply to an ask within its timeout; the message names the actor path and the timeout.
   * @param msg what happened, after the code
   * @default msg 'ask timed out'
   */
  static ASK_TIMEOUT(msg = 'ask timed out'): ClusterError {
    return new ClusterError(ErrorCode.ASK_TIMEOUT, msg)
  }

  /**
   * A node that is not in the cluster, became unreachable, left, or lost a message on its way
   * there; asks to it fail with this.
   * @param msg what happened, after the code
   * @default msg 'recipient unreachable'
   */
  static UNREACHABLE(msg = 'recipient unreachable'): ClusterError {
    return new ClusterError(ErrorCode.UNREACHABLE, msg)
  }

  /**
   * A dial that failed (refused, reset, timed out); `cause` is the runtime's own error.
   * @param msg what happened, after the code
   * @default msg 'could not connect'
   * @param cause the error underneath, kept as `err.cause`
   */
  static CONNECT_FAILED(msg = 'could not connect', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.CONNECT_FAILED, msg, { cause })
  }

  /**
   * The transport could not listen (a port in use, an address this host lacks).
   * @param msg what happened, after the code
   * @default msg 'could not listen'
   * @param cause the error underneath, kept as `err.cause`
   */
  static LISTEN_FAILED(msg = 'could not listen', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.LISTEN_FAILED, msg, { cause })
  }

  /**
   * An error from an open socket; `cause` is the runtime's own error. The peer is redialled.
   * @param msg what happened, after the code
   * @default msg 'socket error'
   * @param cause the error underneath, kept as `err.cause`
   */
  static SOCKET_ERROR(msg = 'socket error', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.SOCKET_ERROR, msg, { cause })
  }

  /**
   * A connection closed during its handshake (a hint follows when TLS is the likely cause).
   * @param msg what happened, after the code
   * @default msg 'connection closed'
   */
  static CONNECTION_CLOSED(msg = 'connection closed'): ClusterError {
    return new ClusterError(ErrorCode.CONNECTION_CLOSED, msg)
  }

  /**
   * TLS settings that are incomplete or do not load (a certificate without its key, say).
   * @param msg what happened, after the code
   * @default msg 'incomplete TLS settings'
   */
  static TLS_CONFIG(msg = 'incomplete TLS settings'): ClusterError {
    return new ClusterError(ErrorCode.TLS_CONFIG, msg)
  }

  /**
   * A TLS setting this runtime cannot honour.
   * @param msg what happened, after the code
   * @default msg 'TLS is not available here'
   */
  static TLS_UNSUPPORTED(msg = 'TLS is not available here'): ClusterError {
    return new ClusterError(ErrorCode.TLS_UNSUPPORTED, msg)
  }

  /**
   * A runtime, or a runtime version, the package cannot run on; the message names the fix.
   * @param msg what happened, after the code
   * @default msg 'not available on this runtime'
   */
  static UNSUPPORTED_RUNTIME(msg = 'not available on this runtime'): ClusterError {
    return new ClusterError(ErrorCode.UNSUPPORTED_RUNTIME, msg)
  }

  /**
   * A message that did not fit a bounded queue (a peer's outbound bytes, a mailbox); it is
   * counted as dropped.
   * @param msg what happened, after the code
   * @default msg 'outbound queue is full'
   */
  static QUEUE_FULL(msg = 'outbound queue is full'): ClusterError {
    return new ClusterError(ErrorCode.QUEUE_FULL, msg)
  }

  /**
   * An inbound connection above `maxConnections`; it is closed at once.
   * @param msg what happened, after the code
   * @default msg 'too many inbound connections'
   */
  static TOO_MANY_CONNECTIONS(msg = 'too many inbound connections'): ClusterError {
    return new ClusterError(ErrorCode.TOO_MANY_CONNECTIONS, msg)
  }

  /**
   * A connection that sent part of a frame or of a chunked message and stopped; it is closed.
   * @param msg what happened, after the code
   * @default msg 'incomplete frame stalled'
   */
  static STALLED(msg = 'incomplete frame stalled'): ClusterError {
    return new ClusterError(ErrorCode.STALLED, msg)
  }

  /**
   * A peer that keeps more bytes of chunked messages half-joined than the per-connection or
   * per-node cap allows; its connection is closed.
   * @param msg what happened, after the code
   * @default msg 'chunked messages being joined hold too many bytes'
   */
  static REASSEMBLY_FULL(msg = 'chunked messages being joined hold too many bytes'): ClusterError {
    return new ClusterError(ErrorCode.REASSEMBLY_FULL, msg)
  }

  /**
   * A hello that claims an address already connected with an incarnation no larger than the live
   * one: a replay or an impostor, refused.
   * @param msg what happened, after the code
   * @default msg 'a hello with an incarnation no larger than the live one'
   */
  static STALE_INCARNATION(msg = 'a hello with an incarnation no larger than the live one'): ClusterError {
    return new ClusterError(ErrorCode.STALE_INCARNATION, msg)
  }

  /**
   * The transport or the node is shut down (or stopped before it was ready).
   * @param msg what happened, after the code
   * @default msg 'transport is shut down'
   */
  static TRANSPORT_CLOSED(msg = 'transport is shut down'): ClusterError {
    return new ClusterError(ErrorCode.TRANSPORT_CLOSED, msg)
  }

  /**
   * A message body from a peer that does not decode.
   * @param msg what happened, after the code
   * @default msg 'malformed message body'
   * @param cause the error underneath, kept as `err.cause`
   */
  static BAD_MESSAGE(msg = 'malformed message body', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.BAD_MESSAGE, msg, { cause })
  }

  /**
   * A value that cannot cross the wire (a function, a class with no serializer, a cycle).
   * @param msg what happened, after the code
   * @default msg 'value cannot be serialized'
   * @param cause the error underneath, kept as `err.cause`
   */
  static NOT_SERIALIZABLE(msg = 'value cannot be serialized', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.NOT_SERIALIZABLE, msg, { cause })
  }

  /**
   * A message whose manifest has no serializer registered on the receiving node.
   * @param msg what happened, after the code
   * @default msg 'no serializer for this manifest'
   */
  static UNKNOWN_MANIFEST(msg = 'no serializer for this manifest'): ClusterError {
    return new ClusterError(ErrorCode.UNKNOWN_MANIFEST, msg)
  }

  /**
   * An actor name or path that is empty, malformed, or names another system.
   * @param msg what happened, after the code
   * @default msg 'malformed actor path or name'
   */
  static BAD_PATH(msg = 'malformed actor path or name'): ClusterError {
    return new ClusterError(ErrorCode.BAD_PATH, msg)
  }

  /**
   * An actor, or an entity type, with this name exists already.
   * @param msg what happened, after the code
   * @default msg 'an actor with this name exists'
   */
  static NAME_TAKEN(msg = 'an actor with this name exists'): ClusterError {
    return new ClusterError(ErrorCode.NAME_TAKEN, msg)
  }

  /**
   * No actor at the path a message or an ask was sent to.
   * @param msg what happened, after the code
   * @default msg 'no actor at this path'
   */
  static NO_RECIPIENT(msg = 'no actor at this path'): ClusterError {
    return new ClusterError(ErrorCode.NO_RECIPIENT, msg)
  }

  /**
   * The actor threw while handling an asked message; `cause` is what it threw.
   * @param msg what happened, after the code
   * @default msg 'the actor failed while handling the message'
   * @param cause the error underneath, kept as `err.cause`
   */
  static ACTOR_FAILED(msg = 'the actor failed while handling the message', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.ACTOR_FAILED, msg, { cause })
  }

  /**
   * The actor system is terminated, or terminated before a reply came.
   * @param msg what happened, after the code
   * @default msg 'the actor system is stopped'
   */
  static SYSTEM_STOPPED(msg = 'the actor system is stopped'): ClusterError {
    return new ClusterError(ErrorCode.SYSTEM_STOPPED, msg)
  }

  /**
   * A member record or status decision that is forged, unsigned, out of range or not vouched for.
   * @param msg what happened, after the code
   * @default msg 'member record refused'
   */
  static BAD_RECORD(msg = 'member record refused'): ClusterError {
    return new ClusterError('BAD_RECORD', msg)
  }

  /**
   * The cluster already has as many members as it takes (`maxMembers`).
   * @param msg what happened, after the code
   * @default msg 'the cluster has as many members as it takes'
   */
  static MEMBERSHIP_FULL(msg = 'the cluster has as many members as it takes'): ClusterError {
    return new ClusterError('MEMBERSHIP_FULL', msg)
  }

  /**
   * A channel of this name is open already on this node.
   * @param msg what happened, after the code
   * @default msg 'a channel with this name is open'
   */
  static CHANNEL_TAKEN(msg = 'a channel with this name is open'): ClusterError {
    return new ClusterError(ErrorCode.CHANNEL_TAKEN, msg)
  }

  /**
   * One side of a connection speaks TLS and the other does not.
   * @param msg what happened, after the code
   * @default msg 'TLS on one side of the connection only'
   */
  static TLS_MISMATCH(msg = 'TLS on one side of the connection only'): ClusterError {
    return new ClusterError(ErrorCode.TLS_MISMATCH, msg)
  }

  /**
   * `cluster.ready()` ran out of time; the message names the seeds tried and what each answered.
   * @param msg what happened, after the code
   * @default msg 'the node did not join in time'
   */
  static READY_TIMEOUT(msg = 'the node did not join in time'): ClusterError {
    return new ClusterError(ErrorCode.READY_TIMEOUT, msg)
  }

  /**
   * The swarm entry cannot run here: the runtime cannot load hyperswarm's native parts, or the
   * optional peer dependencies are not installed.
   * @param msg what happened, after the code
   * @param cause the error loading it failed with, if any
   * @default msg 'hyperswarm cannot run on this runtime'
   */
  static SWARM_UNSUPPORTED(msg = 'hyperswarm cannot run on this runtime', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.SWARM_UNSUPPORTED, msg, { cause })
  }

  /**
   * A node named by a public key did not prove that key: its hello names another one.
   * @param msg what happened, after the code
   * @default msg "the address's key is not the connection's key"
   */
  static KEY_MISMATCH(msg = "the address's key is not the connection's key"): ClusterError {
    return new ClusterError(ErrorCode.KEY_MISMATCH, msg)
  }

  /**
   * This node and the cluster's sharding leader disagree on the number of shards.
   * @param msg what happened, after the code
   * @default msg 'the cluster has another number of shards'
   */
  static SHARD_COUNT_MISMATCH(msg = 'the cluster has another number of shards'): ClusterError {
    return new ClusterError(ErrorCode.SHARD_COUNT_MISMATCH, msg)
  }
}

export function isClusterError(err: unknown): err is ClusterError {
  return err instanceof ClusterError
}
