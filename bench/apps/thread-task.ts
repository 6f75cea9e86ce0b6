// The task of the threading benchmark, as carafe/threading runs it: a module function marked
// with threadTarget(). piscina-task.mjs is the same function in the shape piscina runs.
import { threadTarget } from "carafe/threading";

export const add = threadTarget(import.meta.url, function add(a: number, b: number): number {
  return a + b;
});
