/**
 * Credentials out of text meant for people: the password of any `scheme://user:password@host`
 * (DSNs, Redis and Trino URLs) and `password=`/`token=`-style parameters become `***`. Applied
 * to every configuration error and every log line, so a secret in a setting never reaches a
 * terminal or a log store.
 */

/**
 * `//user:password@` after any scheme (or a mistyped one: `postgres//…`) — the password runs to the
 * last `@` before the host (a raw `@` in it still counts).
 */
const URL_PASSWORD = /(\/\/[^/\s"'@:]*):[^/\s"']*@/g;
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

/**
 * A value given for a URL setting, for an error message: whatever could be its userinfo (up to
 * the last `@`) keeps only the user name, even when the value is too broken to parse as a URL.
 */
export function redactUrl(raw: string): string {
  const at = raw.lastIndexOf("@");
  if (at < 0) return redact(raw);
  const slashes = raw.indexOf("//");
  const start = slashes >= 0 && slashes < at ? slashes + 2 : 0;
  const userinfo = raw.slice(start, at);
  const colon = userinfo.indexOf(":");
  const masked = colon >= 0 ? `${userinfo.slice(0, colon)}:${MASK}` : MASK;
  return redact(`${raw.slice(0, start)}${masked}${raw.slice(at)}`);
}
