/** Structured JSON logs on stdout, one object per line, filtered by level; credentials in them are masked (redact.ts). */
import { redact } from "./redact";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;
export type Logger = Record<Exclude<LogLevel, "silent">, (event: string, fields?: Record<string, unknown>) => void>;

/** A logger that adds `fields` to every line (e.g. a run's id and trace id). */
export function withFields(log: Logger, fields: Record<string, unknown>): Logger {
  const wrap = (fn: Logger["info"]) => (event: string, more?: Record<string, unknown>) => fn(event, { ...fields, ...more });
  return { debug: wrap(log.debug), info: wrap(log.info), warn: wrap(log.warn), error: wrap(log.error) };
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const min = LEVELS[level];
  const emit = (lvl: Exclude<LogLevel, "silent">) => (event: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return;
    write(`${redact(JSON.stringify({ ts: new Date().toISOString(), level: lvl, event, ...fields }))}\n`);
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
