// Design: how the primitives cross a thread boundary. Each keeps its whole state in shared
// memory and marks itself with `kind`, so the structured clone postMessage makes of it is a
// plain object that `fromShared` turns back into the class on the other side, still on the same
// memory. Named values (`app.shared.lock('cache')`) live in one registry per thread: the process
// that serves an app declares them while importing it and hands the registry to every pool
// thread in its workerData, so the same name means the same memory in every thread.

import { workerData } from "node:worker_threads";
import { Barrier } from "./barrier.ts";
import { Condition } from "./condition.ts";
import { ThreadingError } from "./errors.ts";
import { Event } from "./event.ts";
import { Lock, RLock } from "./locks.ts";
import { BoundedSemaphore, Semaphore } from "./semaphore.ts";

/**
 * A 64-bit integer counter shared across threads; every operation is one atomic step.
 *
 * @example
 * const hits = new Counter();
 * hits.increment(); // from any thread it was passed to
 */
export class Counter {
  readonly kind = "Counter";
  readonly state: BigInt64Array;

  constructor(initial = 0, state?: BigInt64Array) {
    this.state = state ?? new BigInt64Array(new SharedArrayBuffer(8));
    if (state === undefined) this.state[0] = BigInt(initial);
  }

  /** Adds `n` (may be negative) and returns the new value. */
  add(n = 1): number {
    return Number(Atomics.add(this.state, 0, BigInt(n))) + n;
  }

  increment(): number {
    return this.add(1);
  }

  decrement(): number {
    return this.add(-1);
  }

  get value(): number {
    return Number(Atomics.load(this.state, 0));
  }

  set value(value: number) {
    Atomics.store(this.state, 0, BigInt(value));
  }

  /** Sets `next` if the value is `expected`; whether it did. */
  compareAndSet(expected: number, next: number): boolean {
    return (
      Atomics.compareExchange(this.state, 0, BigInt(expected), BigInt(next)) === BigInt(expected)
    );
  }
}

type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/**
 * A typed array of `length` zeros on shared memory: pass it to threads and they all see (and
 * change) the same elements. Use `Atomics` or a `Lock` for read-modify-write steps.
 *
 * @example
 * const totals = sharedArray(Float64Array, 4);
 */
export function sharedArray<T extends TypedArrayConstructor>(
  type: T,
  length: number,
): InstanceType<T> {
  const buffer = new SharedArrayBuffer(length * type.BYTES_PER_ELEMENT);
  return new (type as unknown as new (buffer: SharedArrayBuffer) => InstanceType<T>)(buffer);
}

/** Every class that can cross a thread, by its `kind`. */
const REVIVERS = {
  Lock: (state: Int32Array) => new Lock(state),
  RLock: (state: Int32Array) => new RLock(state),
  Semaphore: (state: Int32Array) => new Semaphore(0, state),
  BoundedSemaphore: (state: Int32Array) => new BoundedSemaphore(0, state),
  Event: (state: Int32Array) => new Event(state),
  Barrier: (state: Int32Array) => new Barrier(0, state),
  Counter: (state: BigInt64Array) => new Counter(0, state),
} as const;

/** Anything `fromShared` rebuilds. */
export type SharedValue =
  Lock | RLock | Semaphore | BoundedSemaphore | Event | Condition | Barrier | Counter;

function isPlain(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Rebuilds the primitives inside a value that crossed a thread boundary (a structured clone
 * keeps their shared memory but drops their class). Arrays and plain objects are walked; Thread
 * args and toThread arguments go through it already, so call it yourself only on data you
 * posted with a bare `postMessage` or `workerData`.
 *
 * @example
 * const { lock } = fromShared(workerData) as { lock: Lock };
 */
export function fromShared<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => fromShared(item)) as T;
  if (!isPlain(value)) return value;
  const kind = value.kind;
  if (kind === "Condition") {
    const lock = fromShared(value.lock) as Lock | RLock;
    return new Condition(lock, value.state as Int32Array) as T;
  }
  if (typeof kind === "string" && Object.hasOwn(REVIVERS, kind)) {
    const revive = REVIVERS[kind as keyof typeof REVIVERS] as (state: unknown) => unknown;
    return revive(value.state) as T;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = fromShared(item);
  return out as T;
}

/** The key in a pool thread's workerData under which the named values arrive. */
export const NAMED_KEY = "carafe.shared";

/** A shared typed array (`sharedArray`). */
type SharedTypedArray = InstanceType<TypedArrayConstructor>;

type Named = Map<string, SharedValue | SharedTypedArray>;

function kindOf(value: SharedValue | SharedTypedArray): string {
  return "kind" in value ? value.kind : value.constructor.name;
}

let named: Named | null = null;
/** Whether this thread received its names from the thread that started it (no new names). */
let inherited = false;

function registry(): Named {
  if (named !== null) return named;
  const given = (workerData as Record<string, unknown> | null)?.[NAMED_KEY];
  inherited = given !== undefined;
  named = new Map(Object.entries(fromShared((given ?? {}) as Record<string, SharedValue>)));
  return named;
}

/**
 * The value declared under `name` in this process, created by `create` the first time. In a pool
 * thread the name must already exist: it was declared when the worker process imported the app.
 */
export function namedShared<T extends SharedValue | SharedTypedArray>(
  name: string,
  kind: string,
  create: () => T,
): T {
  const values = registry();
  const found = values.get(name);
  if (found !== undefined) {
    if (kindOf(found) !== kind) {
      throw new ThreadingError(
        `shared '${name}' is already declared as ${kindOf(found)}, and was now asked for as ${kind}; each name holds one kind of value`,
      );
    }
    return found as T;
  }
  if (inherited) {
    throw new ThreadingError(
      `shared ${kind} '${name}' was first asked for on a pool thread; declare it when the app module is imported (at its top level), so every thread shares one`,
    );
  }
  const value = create();
  values.set(name, value);
  return value;
}

/** Everything declared so far, for the workerData of the threads a process starts. */
export function namedSharedValues(): Record<string, SharedValue | SharedTypedArray> {
  return Object.fromEntries(registry());
}

/**
 * Shared values by name, the same instance in every thread of the process: declare them at the
 * top level of the app module, which the process and each of its pool threads import. Names are
 * per process (a `--workers` process has its own); `app.shared` is one of these.
 *
 * @example
 * const hits = app.shared.counter("hits");
 * const cache = app.shared.lock("cache");
 * app.get("/", () => cache.withLock(() => `visit ${hits.increment()}`));
 */
export class NamedShared {
  lock(name: string): Lock {
    return namedShared(name, "Lock", () => new Lock());
  }

  rlock(name: string): RLock {
    return namedShared(name, "RLock", () => new RLock());
  }

  semaphore(name: string, value = 1): Semaphore {
    return namedShared(name, "Semaphore", () => new Semaphore(value));
  }

  boundedSemaphore(name: string, value = 1): BoundedSemaphore {
    return namedShared(name, "BoundedSemaphore", () => new BoundedSemaphore(value));
  }

  event(name: string): Event {
    return namedShared(name, "Event", () => new Event());
  }

  condition(name: string): Condition {
    return namedShared(name, "Condition", () => new Condition());
  }

  barrier(name: string, parties: number): Barrier {
    return namedShared(name, "Barrier", () => new Barrier(parties));
  }

  counter(name: string, initial = 0): Counter {
    return namedShared(name, "Counter", () => new Counter(initial));
  }

  /** A shared typed array of `length` zeros (see `sharedArray`). */
  array<T extends TypedArrayConstructor>(name: string, type: T, length: number): InstanceType<T> {
    return namedShared(name, type.name, () => sharedArray(type, length));
  }
}
