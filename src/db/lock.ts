import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { AppError } from '../shared/index.ts';

/**
 * One process at a time on an embedded (PGlite) database directory. PGlite is Postgres in the
 * process's own memory: two processes on one directory each keep their own buffers and sequences,
 * so one's writes vanish under the other's and ids collide (issue 13: a client added by the CLI
 * beside `npm start` was gone after a restart, then audit_events_pkey failed). The lock is a file
 * beside the directory, created with O_EXCL, naming its holder (pid, the kernel's start time of
 * that pid, host, directory). A holder that is gone (pid dead, or the pid now belongs to a process
 * started at another time) left a stale lock, which the next opener takes over; a lock copied with
 * the directory (a backup restored elsewhere) names another directory and is stale too.
 */
export interface LockHolder {
  pid: number;
  /** /proc/<pid>/stat starttime (clock ticks since boot), when the platform has /proc. */
  startTime: string | null;
  host: string;
  dir: string;
  since: string;
}

export interface DirectoryLock {
  readonly path: string;
  release(): void;
}

/** Fields 3.. of /proc/<pid>/stat (Linux), or null where there is no /proc. */
function procStat(pid: number | 'self'): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The kernel's start time of `pid` (field 22), or null. */
const startTimeOf = (pid: number | 'self'): string | null => procStat(pid)?.[19] ?? null;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process not yet reaped by its parent (a zombie) holds nothing.
  return procStat(pid)?.[0] !== 'Z';
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return typeof parsed.pid === 'number' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process named in the lock still holds it. */
function holds(holder: LockHolder | undefined, dir: string): boolean {
  if (!holder) return false; // unreadable or half-written by a crashed opener: stale
  if (holder.dir !== dir) return false; // copied along with the directory
  if (holder.host !== hostname()) return true; // another machine (shared filesystem): cannot tell, so never steal
  if (!alive(holder.pid)) return false;
  const now = startTimeOf(holder.pid);
  return holder.startTime === null || now === null || now === holder.startTime;
}

/** Who holds the lock on `dir` now, if anyone (for the CLI: is an IdP running on it?). */
export function lockHolder(dir: string): LockHolder | undefined {
  const holder = readHolder(`${dir}.lock`);
  return holds(holder, dir) ? holder : undefined;
}

export function lockedError(dir: string, holder: LockHolder): AppError {
  const who = holder.host === hostname() ? `process ${holder.pid}` : `process ${holder.pid} on host ${holder.host}`;
  return new AppError(
    'database_locked',
    `The embedded database in ${dir} is in use by ${who} (since ${holder.since}). PGlite allows one process per directory: ` +
      'stop that process first, or run operator commands through it (npm run cli talks to a running IdP by itself), ' +
      `or use PostgreSQL (DATABASE_URL) for several processes. If no such process exists, delete ${dir}.lock.`,
    { status: 503 },
  );
}

/** Takes the lock on `dir` (the file `${dir}.lock`), or throws database_locked naming the holder. */
export function lockDirectory(dir: string): DirectoryLock {
  const path = `${dir}.lock`;
  const me: LockHolder = { pid: process.pid, startTime: startTimeOf('self'), host: hostname(), dir, since: new Date().toISOString() };
  const content = JSON.stringify(me);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, content);
      } finally {
        closeSync(fd);
      }
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        // Only our own lock: never remove one another process took over meanwhile.
        if (readHolder(path)?.pid === me.pid && readHolder(path)?.since === me.since) unlinkSync(path);
      };
      // A process that exits without closing the database (an uncaught error) still lets go.
      process.on('exit', release);
      return { path, release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readHolder(path);
    if (holds(holder, dir)) throw lockedError(dir, holder!);
    // Stale. Move it aside atomically (of several openers taking over, one wins the rename), then
    // make sure what we moved is the stale lock we judged and not a fresh one taken meanwhile.
    const aside = `${path}.stale-${randomBytes(6).toString('hex')}`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // someone else moved it: try again
    }
    const moved = readHolder(aside);
    if (moved && holds(moved, dir)) {
      try {
        linkSync(aside, path);
      } catch {
        // a third opener has it now; ours goes
      }
      unlinkSync(aside);
      throw lockedError(dir, moved);
    }
    unlinkSync(aside);
  }
  const holder = readHolder(path);
  throw holder ? lockedError(dir, holder) : new AppError('database_locked', `Could not take the lock ${path}; try again.`, { status: 503 });
}

/** The error codes this module raises (see src/shared/errors.ts). */
declare module '../shared/errors.ts' {
  interface ErrorCodes {
    database_locked: true;
  }
}
