/**
 * Credentials out of text meant for people: the password of any `scheme://user:password@host`
 * (DSNs, Redis and Trino URLs) and `password=`/`token=`-style parameters become `***`. Applied
 * to every configuration error and every log line, so a secret in a setting never reaches a
 * terminal or a log store.
 */

/** `scheme://user:password@` — the password runs to the last `@` before the host (a raw `@` in it still counts). */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^/\s"'@:]*):[^/\s"']*@/gi;
/** `scheme://secret@` with no user: Redis and some clients put the password alone in the userinfo. */
const URL_SOLE_SECRET = /([a-z][a-z0-9+.-]*:\/\/)[^/\s"'@:]+@/gi;
/** `password=...` in a query string or a libpq keyword DSN, `token=...`, `secret=...`, `apikey=...`. */
const PARAM = /\b(password|passwd|pwd|sslpassword|secret|token|api[_-]?key|access[_-]?key)=([^&\s"']+)/gi;

const MASK = "***";

export function redact(text: string): string {
  if (!text.includes("@") && !text.includes("=")) return text;
  return text
    .replace(URL_PASSWORD, `$1:${MASK}@`)
    .replace(URL_SOLE_SECRET, (whole, scheme: string) => (isRedisScheme(scheme) ? `${scheme}${MASK}@` : whole))
    .replace(PARAM, `$1=${MASK}`);
}

function isRedisScheme(scheme: string): boolean {
  return /^rediss?:\/\/$/i.test(scheme);
}
