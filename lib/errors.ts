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

export class ClusterError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, msg: string, opts: ClusterErrorOptions = {}) {
    super(`${code}: ${msg}`, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
  }

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

  static FRAME_TOO_LARGE(msg = 'frame exceeds the maximum frame size'): ClusterError {
    return new ClusterError(ErrorCode.FRAME_TOO_LARGE, msg)
  }

  static BAD_FRAME(msg = 'malformed frame', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.BAD_FRAME, msg, { cause })
  }

  static UNKNOWN_KIND(msg = 'unknown message kind'): ClusterError {
    return new ClusterError(ErrorCode.UNKNOWN_KIND, msg)
  }

  static BAD_VERSION(msg = 'unsupported wire version'): ClusterError {
    return new ClusterError(ErrorCode.BAD_VERSION, msg)
  }

  static BAD_ADDRESS(msg = 'malformed node address'): ClusterError {
    return new ClusterError(ErrorCode.BAD_ADDRESS, msg)
  }

  static BAD_OPTIONS(msg = 'invalid options'): ClusterError {
    return new ClusterError(ErrorCode.BAD_OPTIONS, msg)
  }

  static HANDSHAKE_TIMEOUT(msg = 'handshake did not complete in time'): ClusterError {
    return new ClusterError(ErrorCode.HANDSHAKE_TIMEOUT, msg)
  }

  static HANDSHAKE_FAILED(msg = 'handshake failed'): ClusterError {
    return new ClusterError(ErrorCode.HANDSHAKE_FAILED, msg)
  }

  static AUTH_FAILED(msg = 'peer failed authentication'): ClusterError {
    return new ClusterError(ErrorCode.AUTH_FAILED, msg)
  }

  static CLUSTER_MISMATCH(msg = 'peer belongs to another cluster'): ClusterError {
    return new ClusterError(ErrorCode.CLUSTER_MISMATCH, msg)
  }

  static ASK_TIMEOUT(msg = 'ask timed out'): ClusterError {
    return new ClusterError(ErrorCode.ASK_TIMEOUT, msg)
  }

  static UNREACHABLE(msg = 'recipient unreachable'): ClusterError {
    return new ClusterError(ErrorCode.UNREACHABLE, msg)
  }

  static CONNECT_FAILED(msg = 'could not connect', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.CONNECT_FAILED, msg, { cause })
  }

  static LISTEN_FAILED(msg = 'could not listen', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.LISTEN_FAILED, msg, { cause })
  }

  static SOCKET_ERROR(msg = 'socket error', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.SOCKET_ERROR, msg, { cause })
  }

  static CONNECTION_CLOSED(msg = 'connection closed'): ClusterError {
    return new ClusterError(ErrorCode.CONNECTION_CLOSED, msg)
  }

  static TLS_CONFIG(msg = 'incomplete TLS settings'): ClusterError {
    return new ClusterError(ErrorCode.TLS_CONFIG, msg)
  }

  static TLS_UNSUPPORTED(msg = 'TLS is not available here'): ClusterError {
    return new ClusterError(ErrorCode.TLS_UNSUPPORTED, msg)
  }

  static UNSUPPORTED_RUNTIME(msg = 'not available on this runtime'): ClusterError {
    return new ClusterError(ErrorCode.UNSUPPORTED_RUNTIME, msg)
  }

  static QUEUE_FULL(msg = 'outbound queue is full'): ClusterError {
    return new ClusterError(ErrorCode.QUEUE_FULL, msg)
  }

  static TOO_MANY_CONNECTIONS(msg = 'too many inbound connections'): ClusterError {
    return new ClusterError(ErrorCode.TOO_MANY_CONNECTIONS, msg)
  }

  static STALLED(msg = 'incomplete frame stalled'): ClusterError {
    return new ClusterError(ErrorCode.STALLED, msg)
  }

  static REASSEMBLY_FULL(msg = 'chunked messages being joined hold too many bytes'): ClusterError {
    return new ClusterError(ErrorCode.REASSEMBLY_FULL, msg)
  }

  static STALE_INCARNATION(msg = 'a hello with an incarnation no larger than the live one'): ClusterError {
    return new ClusterError(ErrorCode.STALE_INCARNATION, msg)
  }

  static TRANSPORT_CLOSED(msg = 'transport is shut down'): ClusterError {
    return new ClusterError(ErrorCode.TRANSPORT_CLOSED, msg)
  }

  /** A message body from a peer that does not decode. */
  static BAD_MESSAGE(msg = 'malformed message body', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.BAD_MESSAGE, msg, { cause })
  }

  /** A value that cannot cross the wire (a function, a class with no serializer, a cycle). */
  static NOT_SERIALIZABLE(msg = 'value cannot be serialized', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.NOT_SERIALIZABLE, msg, { cause })
  }

  static UNKNOWN_MANIFEST(msg = 'no serializer for this manifest'): ClusterError {
    return new ClusterError(ErrorCode.UNKNOWN_MANIFEST, msg)
  }

  static BAD_PATH(msg = 'malformed actor path or name'): ClusterError {
    return new ClusterError(ErrorCode.BAD_PATH, msg)
  }

  static NAME_TAKEN(msg = 'an actor with this name exists'): ClusterError {
    return new ClusterError(ErrorCode.NAME_TAKEN, msg)
  }

  static NO_RECIPIENT(msg = 'no actor at this path'): ClusterError {
    return new ClusterError(ErrorCode.NO_RECIPIENT, msg)
  }

  static ACTOR_FAILED(msg = 'the actor failed while handling the message', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.ACTOR_FAILED, msg, { cause })
  }

  static SYSTEM_STOPPED(msg = 'the actor system is stopped'): ClusterError {
    return new ClusterError(ErrorCode.SYSTEM_STOPPED, msg)
  }

  /**
   * A member record or status decision that is forged, unsigned, out of range or not vouched for.
   */
  static BAD_RECORD(msg = 'member record refused'): ClusterError {
    return new ClusterError('BAD_RECORD', msg)
  }

  /** The cluster already has as many members as it takes (`maxMembers`). */
  static MEMBERSHIP_FULL(msg = 'the cluster has as many members as it takes'): ClusterError {
    return new ClusterError('MEMBERSHIP_FULL', msg)
  }

  static CHANNEL_TAKEN(msg = 'a channel with this name is open'): ClusterError {
    return new ClusterError(ErrorCode.CHANNEL_TAKEN, msg)
  }

  /** One side of a connection speaks TLS and the other does not. */
  static TLS_MISMATCH(msg = 'TLS on one side of the connection only'): ClusterError {
    return new ClusterError(ErrorCode.TLS_MISMATCH, msg)
  }

  /**
   * `cluster.ready()` ran out of time; the message names the seeds tried and what each answered.
   */
  static READY_TIMEOUT(msg = 'the node did not join in time'): ClusterError {
    return new ClusterError(ErrorCode.READY_TIMEOUT, msg)
  }

  /**
   * The swarm entry cannot run here: the runtime cannot load hyperswarm's native parts, or the
   * optional peer dependencies are not installed.
   */
  static SWARM_UNSUPPORTED(msg = 'hyperswarm cannot run on this runtime', cause?: unknown): ClusterError {
    return new ClusterError(ErrorCode.SWARM_UNSUPPORTED, msg, { cause })
  }

  /** A node named by a public key did not prove that key: its hello names another one. */
  static KEY_MISMATCH(msg = "the address's key is not the connection's key"): ClusterError {
    return new ClusterError(ErrorCode.KEY_MISMATCH, msg)
  }

  /** This node and the cluster's sharding leader disagree on the number of shards. */
  static SHARD_COUNT_MISMATCH(msg = 'the cluster has another number of shards'): ClusterError {
    return new ClusterError(ErrorCode.SHARD_COUNT_MISMATCH, msg)
  }
}

export function isClusterError(err: unknown): err is ClusterError {
  return err instanceof ClusterError
}
