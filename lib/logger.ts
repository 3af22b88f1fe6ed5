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
}

/** Writes records at `level` and above to `sink` (console by default). */
export function createLogger(level: LogLevelName = 'info', sink?: (record: LogRecord) => void): Logger {
  const min = LogLevel[level]
  const write = sink ?? toConsole
  const at = (name: Exclude<LogLevelName, 'silent'>) =>
    LogLevel[name] >= min ? (msg: string, ...rest: unknown[]) => write({ level: name, msg, rest }) : noop
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

export const silentLogger: Logger = createLogger('silent')

/** Prefixes every line, e.g. `[tcp-transport]`. */
export function scopedLogger(log: Logger, scope: string): Logger {
  const prefix = `[${scope}] `
  return {
    debug: (msg, ...rest) => log.debug(prefix + msg, ...rest),
    info: (msg, ...rest) => log.info(prefix + msg, ...rest),
    warn: (msg, ...rest) => log.warn(prefix + msg, ...rest),
    error: (msg, ...rest) => log.error(prefix + msg, ...rest)
  }
}

function toConsole(record: LogRecord): void {
  console[record.level](record.msg, ...record.rest)
}

function noop(): void {}
