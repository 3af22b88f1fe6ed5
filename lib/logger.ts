// A small logging surface the package writes through. Users pass their own (an actor
// system's log, say) or take `createLogger(level)`.

export interface Logger {
  debug(msg: string, ...rest: unknown[]): void
  info(msg: string, ...rest: unknown[]): void
  warn(msg: string, ...rest: unknown[]): void
  error(msg: string, ...rest: unknown[]): void
}

export const LogLevel = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 100
} as const

export type LogLevelName = keyof typeof LogLevel

export interface LogRecord {
  level: Exclude<LogLevelName, 'silent'>
  msg: string
  rest: unknown[]
  /** When the line was written, in milliseconds since the epoch. */
  time: number
}

/** Writes records at `level` and above to `sink` (console by default). */
export function createLogger(level: LogLevelName = 'info', sink?: (record: LogRecord) => void): Logger {
  const min = LogLevel[level]
  const write = sink ?? toConsole
  const at = (name: Exclude<LogLevelName, 'silent'>) =>
    LogLevel[name] >= min ? (msg: string, ...rest: unknown[]) => write({ level: name, msg, rest, time: Date.now() }) : noop
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

export const silentLogger: Logger = createLogger('silent')

/** Prefixes every line, e.g. `[tcp-transport]`. */
export function scopedLogger(log: Logger, scope: string): Logger {
  return prefixedLogger(log, `[${scope}] `)
}

/**
 * Prefixes every line with the node it comes from (`app@127.0.0.1:2552`), read when the line is
 * written: a node listening on port 0 learns its port only once it has started.
 */
export function nodeLogger(log: Logger, node: () => string): Logger {
  return prefixedLogger(log, () => node() + ' ')
}

function prefixedLogger(log: Logger, prefix: string | (() => string)): Logger {
  const p = typeof prefix === 'string' ? () => prefix : prefix
  return {
    debug: (msg, ...rest) => log.debug(p() + msg, ...rest),
    info: (msg, ...rest) => log.info(p() + msg, ...rest),
    warn: (msg, ...rest) => log.warn(p() + msg, ...rest),
    error: (msg, ...rest) => log.error(p() + msg, ...rest)
  }
}

/** One line per record: time, level, then the message (`2026-01-02T10:00:00.000Z WARN  ...`). */
export function formatRecord(record: LogRecord): string {
  return `${new Date(record.time).toISOString()} ${record.level.toUpperCase().padEnd(5)} ${record.msg}`
}

function toConsole(record: LogRecord): void {
  console[record.level](formatRecord(record), ...record.rest)
}

function noop(): void {}
