// Thread and toThread with real worker threads: results, errors, targets and cancellation.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { MessageChannel, threadId, type MessagePort } from "node:worker_threads";
import { spawn } from "node:child_process";
import { once } from "node:events";
import {
  Counter,
  Event,
  Thread,
  ThreadingError,
  ThreadStateError,
  ThreadTargetError,
  ThreadingTimeoutError,
  sharedArray,
  toThread,
} from "../../src/threading/index.ts";
import { closeDefaultPool } from "../../src/threading/to-thread.ts";
import {
  QuotaError,
  digest,
  failing,
  hog,
  misnamed,
  refusing,
  renamed,
} from "../fixtures/threading/work.ts";

after(() => closeDefaultPool());

describe("Thread", () => {
  it("runs a self-contained function on another thread and join() resolves to its result", async () => {
    const thread = new Thread({
      target: (a: number, b: number) => ({ sum: a + b, text: `${a}+${b}` }),
      args: [20, 22],
      name: "adder",
    });
    assert.equal(thread.isAlive(), false);
    assert.equal(thread.threadId, undefined);
    thread.start();
    assert.equal(thread.isAlive(), true);
    assert.ok((thread.threadId ?? 0) > 0);
    assert.deepEqual(await thread.join(), { sum: 42, text: "20+22" });
    assert.equal(thread.isAlive(), false);
    assert.equal(thread.name, "adder");
  });

  it("runs a module function marked with threadTarget, with the module's imports", async () => {
    const thread = new Thread({ target: digest, args: ["carafe", 2] }).start();
    const result = await thread.join();
    assert.equal(result.value.length, 64);
    assert.equal(result.threadId, thread.threadId);
    assert.notEqual(result.threadId, threadId);
  });

  it("rejects join() with the thread's error: its class name, message, code and stack", async () => {
    const thread = new Thread({ target: failing }).start();
    const error = await thread.join().then(
      () => assert.fail("join() resolved"),
      (caught: Error & { code?: string }) => caught,
    );
    assert.equal(error.name, "QuotaError");
    assert.equal(error.message, "quota exceeded for tenant 7");
    assert.equal(error.code, "E_QUOTA");
    assert.match(error.stack ?? "", /work\.ts/);
    assert.ok(!(error instanceof QuotaError), "a class of the thread's module is rebuilt by name");
  });

  it("rebuilds ThreadingError itself as its class, not only its subclasses", async () => {
    const thread = new Thread({ target: refusing }).start();
    const error = await thread.join().then(
      () => assert.fail("join() resolved"),
      (reason: unknown) => reason,
    );
    assert.ok(error instanceof ThreadingError, `got ${String(error)}`);
    assert.equal((error as ThreadingError).code, "ERR_THREADING");
  });

  it("lets the process exit while a daemon thread still runs", { timeout: 60_000 }, async () => {
    // The child starts a thread that sleeps forever; unless it is a daemon, the child lives on
    // and the test's own time limit fails it. (Run as --input-type=module, which threads inherit.)
    const script = [
      'import { Thread, sharedArray } from "carafe/threading";',
      "const running = sharedArray(Int32Array, 1);",
      "const sleepForever = (flag) => {",
      "  Atomics.store(flag, 0, 1);",
      "  Atomics.notify(flag, 0);",
      "  Atomics.wait(flag, 0, 1);",
      "};",
      "new Thread({ target: sleepForever, args: [running], daemon: true }).start();",
      "Atomics.wait(running, 0, 0, 20_000);",
      'console.log(running[0] === 1 ? "running" : "never ran");',
    ].join("\n");
    const child = spawn(
      process.execPath,
      ["--conditions=carafe-source", "--import", "tsx", "--input-type=module", "-e", script],
      // Killed at the limit if the thread keeps it alive: the exit code is then null.
      { stdio: ["ignore", "pipe", "inherit"], signal: AbortSignal.timeout(30_000) },
    );
    child.on("error", () => undefined);
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(output.trim(), "running");
    assert.equal(code, 0);
  });

  it("rebuilds built-in error classes", async () => {
    const thread = new Thread({
      target: () => {
        throw new RangeError("out of range");
      },
    }).start();
    await assert.rejects(thread.join(), RangeError);
  });

  it("says a sent function used an outer variable, naming it, instead of a bare ReferenceError", async () => {
    const limit = 10;
    const thread = new Thread({ target: (n: number) => Math.min(n, limit), args: [50] }).start();
    await assert.rejects(thread.join(), (error: Error) => {
      assert.ok(error instanceof ThreadTargetError, `${error.name}: ${error.message}`);
      assert.match(error.message, /uses 'limit', which is defined outside the function/);
      assert.match(error.message, /Pass 'limit' in args/);
      return true;
    });
  });

  it("refuses native and bound functions when the Thread is made", () => {
    assert.throws(() => new Thread({ target: Math.max, args: [1, 2] }), ThreadTargetError);
    const bound = ((a: number) => a).bind(null);
    assert.throws(() => new Thread({ target: bound, args: [1] }), ThreadTargetError);
  });

  it("finds a module function exported under another name, and says so when it is not exported", async () => {
    assert.equal(await new Thread({ target: renamed, args: [1] }).start().join(), 2);
    await assert.rejects(
      new Thread({ target: misnamed, args: [1] }).start().join(),
      (error: Error) =>
        error instanceof ThreadTargetError &&
        /no exported function named 'nowhere'/.test(error.message),
    );
  });

  it("starts once and cannot be joined before it starts", async () => {
    const thread = new Thread({ target: () => 1 });
    await assert.rejects(thread.join(), ThreadStateError);
    thread.start();
    assert.throws(() => thread.start(), ThreadStateError);
    assert.equal(await thread.join(), 1);
  });

  it("join(timeout) rejects with ThreadingTimeoutError while the thread keeps running", async () => {
    const release = new Event();
    const thread = new Thread({
      target: (done: Event) => {
        done.wait();
        return "finished";
      },
      args: [release],
    }).start();
    await assert.rejects(thread.join(50), ThreadingTimeoutError);
    assert.equal(thread.isAlive(), true);
    release.set();
    assert.equal(await thread.join(), "finished");
  });

  it("shares primitives passed in args; module state stays per thread", async () => {
    const hits = new Counter();
    const threads = [1, 2, 3].map(() => new Thread({ target: digest, args: ["x", 1] }).start());
    const results = await Promise.all(threads.map((thread) => thread.join()));
    // Each thread imported work.ts afresh: its `calls` counts only its own call.
    assert.deepEqual(
      results.map((result) => result.calls),
      [1, 1, 1],
    );
    const counting = [1, 2, 3].map(() =>
      new Thread({
        target: (counter: Counter) => {
          for (let i = 0; i < 1000; i++) counter.increment();
        },
        args: [hits],
      }).start(),
    );
    await Promise.all(counting.map((thread) => thread.join()));
    assert.equal(hits.value, 3000);
  });
});

describe("toThread", () => {
  it("runs one call on the default pool and resolves with its result", async () => {
    const result = await toThread(digest, "abc", 3);
    assert.notEqual(result.threadId, threadId);
    assert.equal(await toThread((a: number, b: number) => a * b, 6, 7), 42);
  });

  it("keeps the event loop free while the call runs", async () => {
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 5);
    await toThread(digest, "loop", 200_000);
    clearInterval(timer);
    assert.ok(ticks > 0, "timers ran while the thread hashed");
  });

  it("rejects with the call's error rebuilt", async () => {
    await assert.rejects(toThread(failing), { name: "QuotaError", code: "E_QUOTA" });
  });

  it(
    "takes { signal } as the last argument: aborting ends the thread running the call, and the next call is served",
    // A thread left running never closes the port below: this limit then fails the test.
    { timeout: 20_000 },
    async () => {
      // 1 once the call runs; it then waits on it, until its thread ends.
      const started = sharedArray(Int32Array, 1);
      const parked = (cell: Int32Array, _held: MessagePort): void => {
        Atomics.store(cell, 0, 1);
        Atomics.notify(cell, 0);
        // Bounded, past the test's limit, only so that a thread left running cannot hold the
        // test file open for good.
        Atomics.wait(cell, 0, 1, 30_000);
      };
      // A port's other end closes when the thread holding it ends: the thread's exit, observed.
      const { port1: watcher, port2: held } = new MessageChannel();
      const threadEnded = once(watcher, "close");
      const controller = new AbortController();
      const running = toThread(parked, started, held, {
        signal: controller.signal,
        // transfer is typed for ArrayBuffers; postMessage moves a MessagePort the same way.
        transfer: [held as unknown as ArrayBuffer],
      });
      await Atomics.waitAsync(started, 0, 0).value;
      controller.abort();
      await assert.rejects(running, { name: "AbortError" });
      await threadEnded;
      assert.equal(await toThread((n: number) => n + 1, 1), 2);
    },
  );

  it("rejects a call that outgrows the thread's heap bound, and serves the next one", async () => {
    await assert.rejects(toThread(hog), {
      name: "ThreadDiedError",
      message: /outgrew its heap bound of \d+ MB/,
    });
    assert.equal(await toThread((n: number) => n + 1, 1), 2);
  });

  it("rejects at once with an already aborted signal", async () => {
    await assert.rejects(
      toThread(() => 1, { signal: AbortSignal.abort() }),
      { name: "AbortError" },
    );
  });

  it("moves buffers listed in transfer instead of copying them", async () => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const sum = await toThread(
      (view: Uint8Array) => view.reduce((total, byte) => total + byte, 0),
      bytes,
      { transfer: [bytes.buffer] },
    );
    assert.equal(sum, 10);
    assert.equal(bytes.byteLength, 0, "the buffer was moved to the thread");
  });

  it("rejects a call whose arguments cannot be sent, and the thread stays free for the next", async () => {
    // More such calls than the pool has threads: each would have kept its thread busy for good.
    for (let i = 0; i < 4; i++) {
      await assert.rejects(
        toThread(
          (fn: () => number) => typeof fn,
          () => 1,
        ),
        (error: Error) =>
          error.name === "DataCloneError" &&
          error.message.startsWith("the call's arguments cannot be sent to a thread"),
      );
    }
    const next = toThread((n: number) => n * 2, 21, { signal: AbortSignal.timeout(10_000) });
    assert.equal(await next, 42);
  });

  it("passes a plain object that merely looks like options through as an argument", async () => {
    const seen = await toThread((options: { signal: string }) => options.signal, { signal: "go" });
    assert.equal(seen, "go");
  });
});
