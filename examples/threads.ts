// Two threads, one printing the numbers 0–9 and one the letters a–j, started together and
// joined: the first example of every threading tutorial, written with Carafe's threads.
//
//   node --conditions=carafe-source --import tsx examples/threads.ts
//
// (That is from a checkout of this repository; in a project that installed carafe, run
// `npx tsx threads.ts`.)
//
// Each thread runs a function this module exports, marked with threadTarget(). To find it, the
// thread imports this module afresh, which runs its top-level code again in that thread. The
// `isMainThread` check at the bottom keeps the main program from starting two more threads
// inside every thread: it plays the part of Python's `if __name__ == "__main__":`. Keeping the
// thread functions in a module of their own would do the same; here one file reads as the
// Python original does. See docs/threading.md.

import { writeSync } from "node:fs";
import { isMainThread } from "node:worker_threads";
import { Thread, sleep, threadTarget } from "carafe/threading";

/**
 * Writes one line to standard output at once. console.log() in a thread hands its line to the
 * main thread, and a thread blocked in sleep() cannot hand over the next one until its function
 * returns: the lines would arrive all together at the end.
 */
function print(line: string | number): void {
  writeSync(1, `${line}\n`);
}

export const printNumbers = threadTarget(import.meta.url, function printNumbers() {
  for (let i = 0; i < 10; i++) {
    print(i);
    sleep(100); // blocks this thread only; the other one keeps printing
  }
});

export const printLetters = threadTarget(import.meta.url, function printLetters() {
  for (const letter of "abcdefghij") {
    print(letter);
    sleep(100);
  }
});

if (isMainThread) {
  const t1 = new Thread({ target: printNumbers });
  const t2 = new Thread({ target: printLetters });

  t1.start();
  t2.start();

  await t1.join();
  await t2.join();
  print("done");
}
