import { Worker, type Transferable } from 'node:worker_threads';
import { silentLogger, type Logger } from '../shared/index.ts';
import { faceError } from './errors.ts';

/**
 * A fixed-size pool of worker threads, one task per worker at a time (each worker runs a
 * single-threaded WASM inference engine, so more would only queue inside it).
 *
 * Protocol: a worker posts `{ type: 'ready' }` once its models are loaded (or `{ type: 'failed' }`),
 * then answers each `{ id, ...task }` with `{ id, ... }`. A task that outlives `timeoutMs` is
 * rejected and its worker terminated and replaced (WASM cannot be interrupted); a worker that
 * dies is replaced and its task rejected. Every rejection is `face_engine_unavailable` (503).
 * After `maxStartFailures` consecutive failed starts the pool is down: tasks are refused at once
 * and a new start is attempted every `restartDelayMs`.
 */
export interface PoolOptions {
  readonly url: URL;
  readonly size: number;
  readonly workerData?: unknown;
  readonly timeoutMs: number;
  readonly startTimeoutMs: number;
  /** Tasks waiting for a worker beyond this are refused (overload: 503, not unbounded memory). */
  readonly maxQueue: number;
  readonly maxStartFailures?: number;
  readonly restartDelayMs?: number;
  readonly logger?: Logger;
  /** Extra Node flags for the workers (none by default). */
  readonly execArgv?: string[];
}

interface Task {
  readonly id: number;
  readonly message: Record<string, unknown>;
  readonly transfer: Transferable[];
  readonly resolve: (value: Record<string, unknown>) => void;
  readonly reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  task: Task | null;
  timer: NodeJS.Timeout | null;
  retired: boolean;
}

export interface PoolStats {
  readonly size: number;
  readonly ready: number;
  readonly busy: number;
  readonly queued: number;
  readonly restarts: number;
  readonly down: boolean;
}

export class WorkerPool {
  private readonly options: Required<Omit<PoolOptions, 'workerData' | 'execArgv'>> & Pick<PoolOptions, 'workerData' | 'execArgv'>;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private readonly logger: Logger;
  private nextId = 1;
  private closed = false;
  private startFailures = 0;
  private restarts = 0;
  private down = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private readyWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(options: PoolOptions) {
    this.options = { maxStartFailures: 3, restartDelayMs: 30_000, logger: silentLogger, ...options };
    this.logger = this.options.logger;
    const size = Math.max(1, Math.floor(options.size));
    for (let i = 0; i < size; i += 1) this.slots.push(this.spawn());
  }

  /** Resolves when every worker is ready; rejects if the pool goes down first. */
  ready(): Promise<void> {
    if (this.slots.every((s) => s.ready)) return Promise.resolve();
    if (this.down) return Promise.reject(faceError('face_engine_unavailable', 'face workers failed to start'));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  run(message: Record<string, unknown>, transfer: Transferable[] = []): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(faceError('face_engine_unavailable', 'face engine closed'));
    if (this.down) return Promise.reject(faceError('face_engine_unavailable', 'face workers are down'));
    if (this.queue.length >= this.options.maxQueue) return Promise.reject(faceError('face_engine_unavailable', 'face engine overloaded'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, message, transfer, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Whether `n` more tasks fit in the queue now. Callers that submit a group (a burst) ask first
   * and then submit it in the same tick, so that a group is queued whole or not at all: half a
   * burst queued and the rest refused would be work done for a request that has already failed.
   */
  admits(n: number): boolean {
    return !this.closed && !this.down && this.queue.length + n <= this.options.maxQueue;
  }

  stats(): PoolStats {
    return {
      size: this.slots.length,
      ready: this.slots.filter((s) => s.ready).length,
      busy: this.slots.filter((s) => s.task).length,
      queued: this.queue.length,
      restarts: this.restarts,
      down: this.down,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const error = faceError('face_engine_unavailable', 'face engine closed');
    for (const task of this.queue.splice(0)) task.reject(error);
    for (const w of this.readyWaiters.splice(0)) w.reject(error);
    await Promise.all(this.slots.map((slot) => this.retire(slot, error)));
  }

  private spawn(): Slot {
    const worker = new Worker(this.options.url, { workerData: this.options.workerData, execArgv: this.options.execArgv ?? [] });
    const slot: Slot = { worker, ready: false, task: null, timer: null, retired: false };
    slot.timer = setTimeout(() => this.fail(slot, new Error('worker start timed out'), true), this.options.startTimeoutMs);
    worker.on('message', (msg: Record<string, unknown>) => this.onMessage(slot, msg));
    worker.on('error', (error) => this.fail(slot, error, !slot.ready));
    worker.on('exit', (code) => this.fail(slot, new Error(`worker exited with code ${code}`), !slot.ready));
    return slot;
  }

  private onMessage(slot: Slot, msg: Record<string, unknown>): void {
    if (slot.retired) return;
    if (msg.type === 'ready') {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = null;
      slot.ready = true;
      // An idle worker does not keep the process alive; a busy one does (see dispatch).
      slot.worker.unref();
      this.startFailures = 0;
      if (this.slots.every((s) => s.ready)) for (const w of this.readyWaiters.splice(0)) w.resolve();
      this.dispatch();
      return;
    }
    if (msg.type === 'failed') {
      this.fail(slot, new Error(`worker failed to start: ${String(msg.message)}`), true);
      return;
    }
    const task = slot.task;
    if (!task || msg.id !== task.id) return;
    this.release(slot);
    task.resolve(msg);
    this.dispatch();
  }

  private dispatch(): void {
    if (this.closed) return;
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.task || slot.retired) continue;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.ref();
      slot.timer = setTimeout(() => {
        this.logger.warn({ timeoutMs: this.options.timeoutMs }, 'face worker timed out; replacing it');
        this.fail(slot, new Error('task timed out'), false);
      }, this.options.timeoutMs);
      try {
        slot.worker.postMessage({ ...task.message, id: task.id }, task.transfer);
      } catch (error) {
        // e.g. an already-detached buffer: the task is at fault, not the worker.
        this.release(slot);
        task.reject(error);
      }
    }
  }

  /** Retires a slot (timeout, crash, failed start) and puts a fresh worker in its place. */
  private fail(slot: Slot, error: unknown, duringStart: boolean): void {
    if (slot.retired || this.closed) return;
    this.logger.warn({ err: error, duringStart }, 'face worker lost');
    void this.retire(slot, faceError('face_engine_unavailable', error instanceof Error ? error.message : 'worker lost'));
    const index = this.slots.indexOf(slot);
    if (duringStart) this.startFailures += 1;
    if (this.startFailures >= this.options.maxStartFailures) {
      this.goDown();
      return;
    }
    this.restarts += 1;
    this.slots.splice(index, 1, this.spawn());
  }

  /** A slot whose task is over (answered or never sent): idle, and no longer keeping the process alive. */
  private release(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.task = null;
    slot.worker.unref();
  }

  /**
   * Takes a slot out of service for good: its messages and timer are ignored from now on, its task
   * (if any) is rejected with `error`, and its worker is terminated (WASM cannot be interrupted).
   */
  private retire(slot: Slot, error: unknown): Promise<number> {
    slot.retired = true;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    const task = slot.task;
    slot.task = null;
    task?.reject(error);
    return slot.worker.terminate();
  }

  private goDown(): void {
    if (this.down) return;
    this.down = true;
    this.logger.error({ failures: this.startFailures }, 'face workers keep failing to start; face engine down');
    const error = faceError('face_engine_unavailable', 'face workers failed to start');
    for (const task of this.queue.splice(0)) task.reject(error);
    for (const w of this.readyWaiters.splice(0)) w.reject(error);
    for (const slot of this.slots) if (!slot.retired) void this.retire(slot, error);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.closed) return;
      this.down = false;
      this.startFailures = 0;
      for (let i = 0; i < this.slots.length; i += 1) this.slots[i] = this.spawn();
    }, this.options.restartDelayMs);
    this.restartTimer.unref();
  }
}
