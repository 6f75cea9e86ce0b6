// A blocking sleep for code inside threads, like Python's time.sleep.

import { deadlineOf, sharedInts, sleepWhile, waitBlocking } from "./wait.ts";

const nobody = sharedInts(1);

/**
 * Blocks this thread for `ms` milliseconds (Python's `time.sleep`). On an event loop it stalls
 * everything else; there, `await setTimeout(ms)` from `node:timers/promises` instead.
 *
 * @example
 * for (let i = 0; i < 10; i++) { console.log(i); sleep(100); }
 */
export function sleep(ms: number): void {
  // Nobody ever notifies this word: the wait always runs to its deadline.
  waitBlocking(sleepWhile(nobody, 0, 0, deadlineOf(ms, "sleep")));
}
