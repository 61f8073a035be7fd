/**
 * A CSV/NDJSON export streamed to a file, resumable after an interruption.
 *
 * Only whole rows reach the file. About once a second the file is fsync'ed, then a sidecar
 * `FILE.aurum-resume` records the byte offset, the row count, the run and the sort key of the last
 * row written. `--resume` truncates the file to that offset (dropping any torn or unrecorded tail)
 * and asks the server for the rows after that key, pinned to the same run; the header of the new
 * response is dropped. The result is byte-identical to an uninterrupted export. The sidecar is
 * removed when the export completes.
 *
 * The export takes the `cursor` of JSON pages, but only JSON pages issue cursors. So the cursor
 * for "after this row" is made from one the server issued for the same query (a JSON page of one
 * row): the same token with the row's key in place of the first row's (see `cursorAfter`).
 */
import { type FileHandle, open, rename, rm, stat } from "node:fs/promises";
import type { ApiClient, Query } from "./client";
import { CliError, EXIT, usageError } from "./errors";
import { bytes as byteText, count, StatusLine, seconds } from "./print";
import { csvFields, ndjsonError, RecordSplitter, type RowKey, rowKey } from "./records";

export type ExportFormat = "csv" | "ndjson";

export type ExportRequest = {
  scenarioId: string;
  format: ExportFormat;
  /** Query filters as the API names them (metric, curve_key, asof_date_from, ...). */
  filters: Record<string, string>;
  runId: string | undefined;
  limit: number | undefined;
};

type ResumeState = {
  version: 1;
  scenario_id: string;
  format: ExportFormat;
  filters: Record<string, string>;
  limit: number | null;
  run_id: string | null;
  /** Bytes of the file that hold whole rows and were fsync'ed before this state was written. */
  offset: number;
  rows: number;
  /** The last row written; null before the first. */
  key: RowKey | null;
};

export type ExportSummary = { file: string | null; format: ExportFormat; run_id: string | null; rows: number; bytes: number; seconds: number; resumed_after_row: number | null };

const CHECKPOINT_MS = 1000;
export const sidecarOf = (file: string) => `${file}.aurum-resume`;

/** Streams an export to `file` (or stdout when null). */
export async function downloadExport(api: ApiClient, req: ExportRequest, file: string | null, resume: boolean): Promise<ExportSummary> {
  const output = file ? await openTarget(req, file, resume) : { sink: stdoutSink(), state: initialState(req) };
  const { sink, state } = output;
  const resumedAfter = state.offset > 0 ? state.rows : null;
  const status = new StatusLine();
  const started = performance.now();
  const sessionStart = { rows: state.rows, bytes: state.offset };

  let lastRow: Uint8Array | null = null;
  let header: string[] | null = null;
  const checkpoint = async () => {
    if (!file) return;
    if (lastRow) state.key = rowKey(lastRow, header);
    lastRow = null;
    await sink.sync();
    await writeState(sidecarOf(file), state);
  };
  const finish = async (): Promise<ExportSummary> => {
    await sink.close();
    if (file) await rm(sidecarOf(file), { force: true });
    const s = { rows: state.rows - sessionStart.rows, bytes: state.offset - sessionStart.bytes, ms: performance.now() - started };
    const resumed = resumedAfter === null ? "" : ` (resumed after row ${count(resumedAfter)})`;
    status.done(`${file ?? "stdout"}: ${count(state.rows)} rows, ${byteText(state.offset)}${resumed} · ${count((s.rows / s.ms) * 1000)} rows/s · ${seconds(s.ms)}`);
    return { file, format: req.format, run_id: state.run_id, rows: state.rows, bytes: state.offset, seconds: s.ms / 1000, resumed_after_row: resumedAfter };
  };

  const remaining = req.limit === undefined ? undefined : req.limit - state.rows;
  if (remaining === 0) return finish();
  const query: Query = { ...req.filters, format: req.format, run_id: state.run_id ?? undefined, limit: remaining };
  if (state.key) {
    const cursor = await cursorAfter(api, req, state.run_id as string, state.key);
    if (cursor === null) return finish(); // the key is the only row: nothing follows it
    query.cursor = cursor;
    process.stderr.write(`resuming ${file} after row ${count(state.rows)} (${byteText(state.offset)})\n`);
  }

  const response = await api.stream("GET", `v1/scenarios/${encodeURIComponent(req.scenarioId)}/outputs`, { query });
  state.run_id ??= response.headers.get("x-aurum-run-id");
  if (!state.run_id) process.stderr.write("note: the scenario has no SUCCEEDED run yet; the export has no rows\n");
  const total = await expectedRows(api, req, state.run_id);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const splitter = new RecordSplitter(req.format === "csv");
  const appending = state.offset > 0;
  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) process.exit(EXIT.INTERRUPTED);
    interrupted = true;
    void reader.cancel().catch(() => {});
  };
  process.on("SIGINT", onInterrupt);
  let lastCheckpoint = performance.now();
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        await checkpoint();
        status.clear();
        throw new CliError(`the download broke off after ${count(state.rows)} rows (${api.unreachable(err).message})`, EXIT.UNREACHABLE, resumeHint(file));
      }
      if (interrupted) {
        await checkpoint();
        status.clear();
        process.stderr.write(`interrupted after ${count(state.rows)} rows${file ? `; continue with --resume` : ""}\n`);
        process.exit(EXIT.INTERRUPTED);
      }
      if (chunk.done) break;
      const records = splitter.push(chunk.value);
      if (!records) continue;
      const failure = req.format === "ndjson" ? ndjsonError(records.last) : null;
      if (failure) {
        // The rows that came with the error line are dropped too: the checkpoint must name the last row written.
        await checkpoint();
        status.clear();
        throw new CliError(`the server failed midway: ${failure}`, EXIT.API, resumeHint(file));
      }
      let { bytes: data, count: rows } = records;
      if (req.format === "csv" && !header) {
        // The first record is the header: written to a fresh file, dropped when appending.
        header = csvFields(new TextDecoder().decode(records.first));
        rows--;
        if (appending) data = data.subarray(records.first.length);
      }
      await sink.write(data);
      state.offset += data.length;
      state.rows += rows;
      if (rows > 0) lastRow = records.last;
      const ms = performance.now() - started;
      const pct = total ? ` / ${count(total)} rows (${Math.floor((state.rows / total) * 100)}%)` : " rows";
      const rate = ((state.rows - sessionStart.rows) / ms) * 1000;
      status.update(`${count(state.rows)}${pct} · ${byteText(state.offset)} · ${count(rate)} rows/s`, String(Math.floor(ms / 5000)));
      if (file && performance.now() - lastCheckpoint >= CHECKPOINT_MS) {
        await checkpoint();
        lastCheckpoint = performance.now();
      }
    }
  } finally {
    process.off("SIGINT", onInterrupt);
  }
  const rest = splitter.rest();
  if (rest.length) {
    await sink.write(rest);
    state.offset += rest.length;
  }
  return finish();
}

const resumeHint = (file: string | null) => (file ? ["continue where it stopped with the same command and --resume"] : []);

/** The number of rows a whole-run export will have, for a progress percentage; null when filtered or unknown. */
async function expectedRows(api: ApiClient, req: ExportRequest, runId: string | null): Promise<number | null> {
  if (!runId || Object.keys(req.filters).length) return null;
  const { data } = await api.call<{ rows_written: number }>("GET", `v1/scenarios/${encodeURIComponent(req.scenarioId)}/runs/${runId}`);
  return req.limit === undefined ? data.rows_written : Math.min(req.limit, data.rows_written);
}

/**
 * A cursor meaning "after `key`" for this query. Cursors are base64url JSON holding the last
 * row's key (`m`, `k`, `t`, `c`), the run (`r`) and a fingerprint of the filters (`f`); the
 * server checks all of them, so a token from a server that spells them otherwise fails loudly
 * (400) instead of exporting the wrong rows. Null when the query has a single row.
 */
async function cursorAfter(api: ApiClient, req: ExportRequest, runId: string, key: RowKey): Promise<string | null> {
  const { meta } = await api.call("GET", `v1/scenarios/${encodeURIComponent(req.scenarioId)}/outputs`, { query: { ...req.filters, run_id: runId, format: "json", limit: 1 } });
  if (!meta.next_cursor) return null;
  let token: Record<string, unknown>;
  try {
    token = JSON.parse(Buffer.from(meta.next_cursor, "base64url").toString("utf8"));
  } catch {
    token = {};
  }
  if (!["m", "k", "t", "c"].every((f) => typeof token[f] === "string")) {
    throw new CliError("this server's cursors cannot resume an export; start over without --resume", EXIT.API);
  }
  const next = { ...token, m: key.metric, k: key.curve_key, t: key.tenor_type, c: key.contract_month };
  return Buffer.from(JSON.stringify(next)).toString("base64url");
}

function initialState(req: ExportRequest): ResumeState {
  return { version: 1, scenario_id: req.scenarioId, format: req.format, filters: req.filters, limit: req.limit ?? null, run_id: req.runId ?? null, offset: 0, rows: 0, key: null };
}

type Sink = { write(data: Uint8Array): Promise<void>; sync(): Promise<void>; close(): Promise<void> };

/** The file and its state: a fresh export (truncating the file), or the one `FILE.aurum-resume` describes. */
async function openTarget(req: ExportRequest, file: string, resume: boolean): Promise<{ sink: Sink; state: ResumeState }> {
  const sidecar = sidecarOf(file);
  const saved = resume ? await readState(sidecar) : null;
  if (resume && !saved && (await exists(file))) {
    throw usageError(`nothing to resume: ${file} has no ${sidecar}`, "it is complete, or was not written by aurum outputs; drop --resume to download it again");
  }
  if (!saved) {
    const state = initialState(req);
    const handle = await open(file, "w");
    await writeState(sidecar, state);
    return { sink: fileSink(handle), state };
  }
  const mismatch = (
    [
      ["scenario", saved.scenario_id, req.scenarioId],
      ["format", saved.format, req.format],
      ["filters", JSON.stringify(sorted(saved.filters)), JSON.stringify(sorted(req.filters))],
      ["limit", saved.limit, req.limit ?? null],
    ] as const
  ).find(([, a, b]) => a !== b);
  if (mismatch) throw usageError(`${sidecar} is for another export (its ${mismatch[0]} is ${mismatch[1]}, not ${mismatch[2]})`, "repeat the interrupted command with --resume");
  if (req.runId && saved.run_id && req.runId !== saved.run_id) throw usageError(`${sidecar} is for run ${saved.run_id}, not ${req.runId}`);
  const size = (await stat(file).catch(() => null))?.size ?? -1;
  if (size < saved.offset) {
    throw new CliError(`${file} is shorter (${size} bytes) than its resume state says (${saved.offset}); start over without --resume`, EXIT.FAILED);
  }
  const handle = await open(file, "r+");
  await handle.truncate(saved.offset);
  return { sink: fileSink(handle, saved.offset), state: saved };
}

function fileSink(handle: FileHandle, position = 0): Sink {
  let at = position;
  return {
    async write(data) {
      for (let done = 0; done < data.length; ) {
        const { bytesWritten } = await handle.write(data, done, data.length - done, at);
        done += bytesWritten;
        at += bytesWritten;
      }
    },
    sync: () => handle.sync(),
    async close() {
      await handle.sync();
      await handle.close();
    },
  };
}

function stdoutSink(): Sink {
  const writer = Bun.stdout.writer();
  return {
    async write(data) {
      writer.write(data);
      await writer.flush();
    },
    sync: async () => {},
    async close() {
      await writer.end();
    },
  };
}

/** Written to a temporary file, fsync'ed, then renamed: a crash leaves the old state or the new one. */
async function writeState(path: string, state: ResumeState): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(`${JSON.stringify(state)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

async function readState(path: string): Promise<ResumeState | null> {
  const text = await Bun.file(path)
    .text()
    .catch(() => null);
  if (text === null) return null;
  try {
    const state = JSON.parse(text) as ResumeState;
    if (state.version === 1 && Number.isInteger(state.offset) && Number.isInteger(state.rows)) return state;
  } catch {}
  throw usageError(`${path} is not a resume state aurum can read; remove it and start over`);
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );
const sorted = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
