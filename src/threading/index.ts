// carafe/threading: Thread, toThread and synchronisation primitives across worker threads.
// Filled in by the threading work; the layer exists so the import rules are in place.

export {};
