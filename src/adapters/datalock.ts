/**
 * One process per embedded data folder. PGlite has no lock of its own: two processes on one folder
 * each keep their own copy in memory and overwrite each other's files, so the writes of one are lost.
 *
 * The lock is an advisory `flock(LOCK_EX | LOCK_NB)` on `<data folder>/aurum.lock`, held for the
 * life of the process: the kernel drops it when the process ends in any way (a crash or SIGKILL
 * included), so a dead holder never blocks the next start. The file holds the holder's pid for the
 * message of whoever is refused; it is never deleted (deleting a locked file would let a third
 * process lock a new file while a second still waits on the old one).
 *
 * Where flock cannot be reached (no libc through bun:ffi), the fallback is `aurum.pid`, created
 * atomically (O_EXCL) with the pid inside; a file whose pid is no longer alive is stale and replaced.
 */
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";

export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
  constructor(
    readonly dir: string,
    readonly holderPid: number | undefined,
    readonly lockFile: string,
  ) {
    super(
      `the data folder ${dir} is in use by ${holderPid ? `process ${holderPid}` : "another process"} (lock ${lockFile}); stop that process, or give this one another AURUM_DATA_DIR`,
    );
  }
}

const LOCK_EX = 2;
const LOCK_NB = 4;

type Flock = (fd: number, op: number) => number;

let flockFn: Flock | null | undefined;

async function flock(): Promise<Flock | null> {
  if (flockFn !== undefined) return flockFn;
  try {
    const { dlopen, FFIType } = await import("bun:ffi");
    const lib = process.platform === "darwin" ? "libc.dylib" : process.platform === "linux" ? "libc.so.6" : undefined;
    if (lib) {
      const { symbols } = dlopen(lib, { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
      flockFn = (fd, op) => symbols.flock(fd, op);
    } else flockFn = null;
  } catch {
    flockFn = null;
  }
  return flockFn;
}

/** Takes the folder's lock or throws DataDirLockedError naming the holder. `release` is for tests; exit releases it too. */
export async function lockDataDir(dataDir: string): Promise<{ release: () => void; file: string }> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const lock = await flock();
  return lock ? lockWithFlock(dir, lock) : lockWithPidFile(dir);
}

/** The fallback alone (exported for its tests). */
export function lockDataDirWithPidFile(dataDir: string): { release: () => void; file: string } {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  return lockWithPidFile(dir);
}

async function lockWithFlock(dir: string, lock: Flock) {
  const file = join(dir, "aurum.lock");
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o644);
  if (lock(fd, LOCK_EX | LOCK_NB) !== 0) {
    closeSync(fd);
    throw new DataDirLockedError(dir, await holderPid(file), file);
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
  return { file, release: () => closeSync(fd) };
}

function lockWithPidFile(dir: string) {
  const file = join(dir, "aurum.pid");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      const release = () => {
        try {
          if (readPid(file) === process.pid) unlinkSync(file);
        } catch {}
      };
      process.once("exit", release);
      return { file, release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = readPid(file);
    if (pid !== undefined && pid !== process.pid && alive(pid)) throw new DataDirLockedError(dir, pid, file);
    // A crashed holder's file (or one being written this instant: the next attempt sees it complete).
    if (pid === undefined && attempt === 0) {
      Bun.sleepSync(50);
      continue;
    }
    try {
      unlinkSync(file);
    } catch {}
  }
  throw new DataDirLockedError(dir, readPid(file), file);
}

/** The pid in the lock file; a holder that has just locked may not have written it yet, so it is read a few times. */
async function holderPid(file: string): Promise<number | undefined> {
  for (let i = 0; i < 20; i++) {
    const pid = readPid(file);
    if (pid !== undefined) return pid;
    await Bun.sleep(25);
  }
  return undefined;
}

function readPid(file: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
