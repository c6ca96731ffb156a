/**
 * A small structured logger: one JSON line per entry on stderr (or plain text on a TTY), levels
 * filtered by LOG_LEVEL. Secrets never reach it: callers log codes and counts, not payloads.
 */
export type Logger = {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const
export type LogLevel = keyof typeof LEVELS

export function createLogger(name: string, level: LogLevel = 'info', out: NodeJS.WritableStream = process.stderr): Logger {
  const min = LEVELS[level]
  const pretty = (out as { isTTY?: boolean }).isTTY === true
  const write = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return
    if (pretty) {
      const extra = fields && Object.keys(fields).length > 0 ? ' ' + JSON.stringify(fields) : ''
      out.write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} [${name}] ${msg}${extra}\n`)
    } else {
      out.write(JSON.stringify({ time: new Date().toISOString(), level: lvl, name, msg, ...fields }) + '\n')
    }
  }
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  }
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }
