/**
 * W3C trace context (https://www.w3.org/TR/trace-context/): one trace id follows a run from the
 * request that triggered it through the outbox, the Kafka message, the worker and its Trino
 * queries, so an operator can follow a run with one grep of the logs (docs/operations.md).
 */

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const hex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");

/** The trace id of a valid `traceparent` header; undefined for anything else (all-zero ids and version ff are invalid). */
export function traceIdOf(header: string | null | undefined): string | undefined {
  const m = TRACEPARENT.exec(header?.trim() ?? "");
  if (!m || m[1] === "ff" || /^0+$/.test(m[2] as string) || /^0+$/.test(m[3] as string)) return undefined;
  return m[2];
}

export const newTraceId = (): string => hex(16);

/** A `traceparent` continuing `traceId` with a fresh span id. */
export function traceparent(traceId: string): string {
  return `00-${traceId}-${hex(8)}-01`;
}
