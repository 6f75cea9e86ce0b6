// The memory a pool shares with its threads: who owns a job sent ahead, and which job ran last.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  claimToStart,
  freeSlot,
  hadStarted,
  isAfter,
  newClaims,
  offer,
  withdraw,
} from "../../../src/threading/pool/claims.ts";

describe("claims", () => {
  it("let exactly one of the loop's take-back and the thread's start succeed", () => {
    const claims = newClaims();
    assert.ok(offer(claims, 0, 7));
    assert.ok(claimToStart(claims, 0, 7), "the thread starts it");
    assert.equal(withdraw(claims, 0, 7), false, "too late to take it back");
    assert.ok(offer(claims, 1, 8));
    assert.ok(withdraw(claims, 1, 8), "taken back");
    assert.equal(claimToStart(claims, 1, 8), false, "the thread skips it");
  });

  it("do not offer a slot whose job the thread has not started yet", () => {
    const claims = newClaims();
    assert.ok(offer(claims, 0, 1));
    assert.equal(offer(claims, 0, 2), false);
    claimToStart(claims, 0, 1);
    assert.ok(offer(claims, 0, 2), "a started job's slot is free again");
  });

  it("tell which jobs a thread that died had started", () => {
    const claims = newClaims();
    assert.equal(hadStarted(claims, 1), false, "it started nothing");
    claimToStart(claims, undefined, 5);
    assert.ok(hadStarted(claims, 4));
    assert.ok(hadStarted(claims, 5));
    assert.equal(hadStarted(claims, 6), false);
  });

  it("find the lowest free slot", () => {
    assert.equal(freeSlot([]), 0);
    assert.equal(freeSlot([{ slot: 0 }, { slot: 2 }]), 1);
    assert.equal(freeSlot(Array.from({ length: 16 }, (_, slot) => ({ slot }))), -1, "all 16 taken");
  });
});

describe("job ids", () => {
  it("keep their order across the wrap from 2^31 - 1 back to 1", () => {
    const max = 2 ** 31 - 1;
    assert.equal(isAfter(2, 1), true);
    assert.equal(isAfter(1, 2), false);
    assert.equal(isAfter(1, max), true, "1 follows the largest id");
    assert.equal(isAfter(max, 1), false);
    assert.equal(isAfter(5, max - 5), true);
    assert.equal(isAfter(7, 7), false);
  });
});
