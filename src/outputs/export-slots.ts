/**
 * Export slots: at most `maxExports` CSV/NDJSON exports (of /outputs or /compare) stream at once in
 * this process (each holds a database connection), and one tenant holds at most its share of them,
 * so its stalled or slow downloads cannot lock other tenants out (docs/outputs.md "Export slots").
 * The tenant's runtime `max_concurrent_exports` flag bounds it further (flags/outputs-gate.ts).
 */
import { createTenantExportGate } from "../flags/outputs-gate";
import { AppError } from "../platform/errors";

export type ExportSlotOptions = {
  /** Exports streaming at once in this process (AURUM_API_OUTPUT_EXPORTS_MAX). */
  maxExports: number;
  /** The most of them one tenant may hold (AURUM_API_OUTPUT_EXPORTS_PER_TENANT); default half of `maxExports`, rounded up. */
  maxExportsPerTenant?: number;
  /** Bytes of CSV/NDJSON handed to the socket (the aurum_output_export_bytes_total counter). */
  onExportBytes?: (bytes: number) => void;
};

export function createExportSlots(deps: ExportSlotOptions) {
  let exporting = 0;
  const tenantExports = createTenantExportGate();
  const share = Math.max(1, Math.min(deps.maxExports, deps.maxExportsPerTenant ?? Math.ceil(deps.maxExports / 2)));
  /** Slots held per tenant, for the share (the runtime flag's own count is `tenantExports`). */
  const held = new Map<string, number>();

  return {
    /** Exports streaming now (the aurum_output_exports_active gauge). */
    get active(): number {
      return exporting;
    },

    /**
     * Runs one export in a slot. The slot is released when the iterator ends, is returned (client
     * gone, stalled download closed) or fails; a request over a limit throws 429 before anything starts.
     */
    run(tenantId: string, tenantExportsMax: number | undefined, open: () => AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
      if (exporting >= deps.maxExports)
        throw new AppError("RATE_LIMITED", `at most ${deps.maxExports} exports run at once on this server; retry shortly`, { retry_after_seconds: 1 });
      const mine = held.get(tenantId) ?? 0;
      if (mine >= share) {
        throw new AppError("RATE_LIMITED", `this tenant already runs ${mine} exports, its share of the ${deps.maxExports} this server runs at once; retry shortly`, {
          retry_after_seconds: 1,
          tenant_exports_max: share,
        });
      }
      const releaseFlag = tenantExports.enter(tenantId, tenantExportsMax);
      held.set(tenantId, mine + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        releaseFlag();
        const left = (held.get(tenantId) ?? 1) - 1;
        if (left > 0) held.set(tenantId, left);
        else held.delete(tenantId);
      };
      exporting++;
      let chunks: AsyncIterable<Uint8Array>;
      try {
        chunks = open();
      } catch (err) {
        exporting--;
        release();
        throw err;
      }
      return (async function* () {
        try {
          for await (const chunk of chunks) {
            deps.onExportBytes?.(chunk.byteLength);
            yield chunk;
          }
        } finally {
          exporting--;
          release();
        }
      })();
    },
  };
}
