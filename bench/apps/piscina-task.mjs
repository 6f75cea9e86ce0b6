// The task of the threading benchmark, as piscina runs it (its default export, one argument);
// thread-task.ts is the same function for carafe/threading.
export default function add({ a, b }) {
  return a + b;
}
