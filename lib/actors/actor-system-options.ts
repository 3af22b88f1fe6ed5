// What an actor system takes when it is created, and the defaults of what it leaves out.

import type { Logger, LogLevelName } from '../logger.ts'
import type { MailboxOptions } from './mailbox.ts'
import type { Serializer } from './serialization.ts'

/** What `ActorSystem.create` takes; every field is optional. */
export interface ActorSystemOptions {
  /**
   * The level of the default logger: `debug`, `info`, `warn`, `error` or `silent`.
   * @default 'info'
   */
  logLevel?: LogLevelName
  /**
   * A logger of your own; takes precedence over logLevel.
   * @default a console logger at logLevel
   */
  log?: Logger
  /**
   * Defaults for every actor's mailbox (each spawn may say otherwise).
   * @default MAILBOX_DEFAULTS
   */
  mailbox?: MailboxOptions
  /**
   * How long an ask waits for its reply unless the ask says otherwise.
   * @default 5000
   */
  askTimeoutMs?: number
  /**
   * Capture the caller's stack at every `ask`, so a failed ask's error names the line that asked.
   * It costs a few microseconds an ask (a local ask takes about three times as long, a remote one
   * a quarter longer); turn it off on hot paths.
   * @default true
   */
  askCallSites?: boolean
  /**
   * Serializers for message types of your own, tried before the built-in value codec.
   * @default []
   */
  serializers?: Serializer<unknown>[]
  /**
   * Pass local messages through the serializer too (also settable on Cluster.join).
   * @default false
   */
  serializeLocalMessages?: boolean
  /**
   * Paths under /system/ that peers may address (default none); envelopes from peers to any
   * other /system/ path are refused and counted as the transport's `drops['forbidden-recipient']`.
   */
  systemPaths?: string[]
}

export const ACTOR_SYSTEM_DEFAULTS = {
  logLevel: 'info',
  askTimeoutMs: 5_000,
  askCallSites: true
} as const
