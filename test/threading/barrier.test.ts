// Barrier under real worker threads and the main thread: generations, abort(), reset() and
// timeouts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { performance } from "node:perf_hooks";
import { Barrier, BrokenBarrierError, sharedArray } from "../../src/threading/index.ts";
import { HANG_LIMIT, joinAll, settleAll, startThread, startThreads, until } from "./helpers.ts";

function waitAtBarrier(barrier: Barrier, timeout?: number): number {
  return barrier.wait(timeout);
}

// ---- Barrier ----

describe("Barrier", { timeout: HANG_LIMIT * 2 }, () => {
  it("takes 3 threads and the main thread through 50 generations, numbering each one's waiters 0 to 3", async () => {
    function passRounds(barrier: Barrier, arrived: Int32Array, rounds: number): number[] {
      const indices: number[] = [];
      for (let round = 0; round < rounds; round++) {
        Atomics.add(arrived, round, 1);
        indices.push(barrier.wait());
        const count = Atomics.load(arrived, round);
        if (count !== barrier.parties) {
          throw new Error(`passed round ${round} when only ${count} had arrived`);
        }
      }
      return indices;
    }
    const rounds = 50;
    const barrier = new Barrier(4);
    const arrived = sharedArray(Int32Array, rounds);
    const threads = startThreads(3, passRounds, [barrier, arrived, rounds]);
    const mine: number[] = [];
    for (let round = 0; round < rounds; round++) {
      Atomics.add(arrived, round, 1);
      mine.push(await barrier.waitAsync());
      assert.equal(Atomics.load(arrived, round), 4, `main passed round ${round} early`);
    }
    const theirs = await joinAll(threads);
    for (let round = 0; round < rounds; round++) {
      const indices = [mine, ...theirs].map((indicesOf) => indicesOf[round]);
      assert.deepEqual(indices.sort(), [0, 1, 2, 3], `round ${round}`);
    }
    assert.equal(barrier.nWaiting, 0);
  });

  it("abort() makes every waiting thread throw BrokenBarrierError, and later waits too", async () => {
    const barrier = new Barrier(4);
    const threads = startThreads(3, waitAtBarrier, [barrier, undefined]);
    await until(() => barrier.nWaiting === 3, "3 threads wait at the barrier");
    barrier.abort();
    for (const outcome of await settleAll(threads)) {
      assert.equal(outcome.status, "rejected");
      assert.ok(outcome.reason instanceof BrokenBarrierError);
    }
    assert.equal(barrier.broken, true);
    assert.throws(() => barrier.wait(), BrokenBarrierError);
    await assert.rejects(barrier.waitAsync(), BrokenBarrierError);
  });

  it("abort() wakes a thread that has just arrived and is not yet asleep, round after round", async () => {
    // The main thread spins until the thread is counted in, then a little longer each round, and
    // aborts, so some aborts land between the thread's arrival and its sleep, a window of a few
    // microseconds; a wake-up lost there leaves the thread asleep for good.
    function waitRounds(barrier: Barrier, signals: Int32Array, rounds: number): number {
      let broken = 0;
      for (let round = 0; round < rounds; round++) {
        try {
          barrier.wait();
        } catch (error) {
          if ((error as Error).name !== "BrokenBarrierError") throw error;
          broken++;
        }
        Atomics.store(signals, 0, round + 1);
        Atomics.notify(signals, 0);
        // Waits for the main thread's reset() before the next round.
        while (Atomics.load(signals, 1) === round) Atomics.wait(signals, 1, round);
      }
      return broken;
    }
    const rounds = 600;
    const barrier = new Barrier(2);
    const signals = sharedArray(Int32Array, 2);
    const thread = startThread(waitRounds, [barrier, signals, rounds]);
    for (let round = 0; round < rounds; round++) {
      // Spins (the window after the arrival is a few microseconds wide), within the hang limit.
      const deadline = performance.now() + HANG_LIMIT;
      while (barrier.nWaiting === 0) {
        if (performance.now() > deadline) assert.fail(`round ${round}: the thread never arrived`);
      }
      const spinUntil = performance.now() + (round % 30) / 10_000;
      while (performance.now() < spinUntil) {
        // a few microseconds more, a different offset each round
      }
      barrier.abort();
      await until(() => Atomics.load(signals, 0) === round + 1, `round ${round} breaks`);
      barrier.reset();
      Atomics.store(signals, 1, round + 1);
      Atomics.notify(signals, 1);
    }
    assert.equal(await thread.join(HANG_LIMIT), rounds);
  });

  it("reset() breaks the threads waiting at it, and the barrier works again afterwards", async () => {
    function waitThroughReset(barrier: Barrier): number {
      try {
        barrier.wait();
        return -1; // passed the generation that reset() should have broken
      } catch (error) {
        if ((error as Error).name !== "BrokenBarrierError") throw error;
      }
      return barrier.wait();
    }
    const barrier = new Barrier(3);
    const threads = startThreads(2, waitThroughReset, [barrier]);
    await until(() => barrier.nWaiting === 2, "2 threads wait at the barrier");
    barrier.reset();
    assert.equal(barrier.broken, false);
    const mine = await barrier.waitAsync();
    const theirs = await joinAll(threads);
    assert.deepEqual([mine, ...theirs].sort(), [0, 1, 2]);
  });

  it("breaks for every waiter, threads and main, when one wait's timeout expires", async () => {
    const barrier = new Barrier(4);
    const patient = startThread(waitAtBarrier, [barrier, undefined]);
    const impatient = startThread(waitAtBarrier, [barrier, 100]);
    const mainBroken = assert.rejects(barrier.waitAsync(), BrokenBarrierError);
    await assert.rejects(impatient.join(HANG_LIMIT), {
      name: "BrokenBarrierError",
      message: /timed out/,
    });
    await assert.rejects(patient.join(HANG_LIMIT), BrokenBarrierError);
    await mainBroken;
    assert.equal(barrier.broken, true);
  });

  it("breaks for the threads waiting at it when an awaited wait's timeout expires on the loop", async () => {
    const barrier = new Barrier(3);
    const patient = startThread(waitAtBarrier, [barrier, undefined]);
    await until(() => barrier.nWaiting === 1, "the thread waits at the barrier");
    await assert.rejects(barrier.waitAsync(50), {
      name: "BrokenBarrierError",
      message: /Barrier.waitAsync timed out/,
    });
    await assert.rejects(patient.join(HANG_LIMIT), BrokenBarrierError);
    assert.equal(barrier.broken, true);
  });
});
