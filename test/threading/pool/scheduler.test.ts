// The pool's scheduler, step by step, with fake threads and a fake clock: where each job goes,
// and what sending ahead and taking back must achieve.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  SLOW_MS,
  Scheduler,
  type Job,
  type Lane,
  type SchedulerLimits,
} from "../../../src/threading/pool/scheduler.ts";

class TestJob implements Job {
  readonly mayWait: boolean;
  constructor(
    readonly name: string,
    readonly rule: string | null = null,
    options: { mayWait?: boolean } = {},
  ) {
    this.mayWait = options.mayWait ?? true;
  }
}

/** One post to a thread: to start now, or to wait (`ahead`) unless taken back first. */
interface Sent {
  job: TestJob;
  ahead: boolean;
  withdrawn: boolean;
}

/**
 * A thread as the scheduler cannot see it: it starts what it is sent in order, skipping what
 * was taken back, and answers (`answers`) reach the loop only when the test delivers them.
 */
class FakeThread {
  /** Posts it has not started yet, in order. */
  readonly inbox: Sent[] = [];
  /** The jobs it started, in order. */
  readonly ran: TestJob[] = [];
  running: TestJob | null = null;
  /** Jobs it finished whose answers have not reached the loop. */
  readonly answers: TestJob[] = [];
  /** Start messages it was sent (jobs sent to it while the loop thought it idle). */
  readonly starts: TestJob[] = [];
  /** Finishes its job each time the loop takes one back: the race a real thread runs. */
  racing = false;
  lane!: Lane<FakeThread, TestJob>;

  constructor(readonly name: string) {}

  receive(sent: Sent): void {
    this.inbox.push(sent);
    if (this.running === null) this.startNext();
  }

  /** The thread finishes what it runs and starts the next job waiting on it. */
  complete(): void {
    assert.notEqual(this.running, null, `${this.name} runs nothing`);
    this.answers.push(this.running as TestJob);
    this.running = null;
    this.startNext();
  }

  private startNext(): void {
    for (let sent = this.inbox.shift(); sent !== undefined; sent = this.inbox.shift()) {
      if (sent.withdrawn) continue;
      this.running = sent.job;
      this.ran.push(sent.job);
      return;
    }
  }
}

/** A scheduler over `names` fake threads, all ready at time 0, with a clock the test moves. */
function setup(names: string[], limits: Partial<SchedulerLimits> = {}) {
  let now = 0;
  const scheduler: Scheduler<FakeThread, TestJob> = new Scheduler(
    {
      start(thread, job) {
        thread.starts.push(job);
        thread.receive({ job, ahead: false, withdrawn: false });
        return true;
      },
      sendAhead(thread, job) {
        thread.receive({ job, ahead: true, withdrawn: false });
        return true;
      },
      takeBack(thread, job) {
        const sent = thread.inbox.find((each) => each.job === job && each.ahead && !each.withdrawn);
        // Not waiting any more: the thread has started it.
        if (sent === undefined) return false;
        sent.withdrawn = true;
        if (thread.racing && thread.running !== null) thread.complete();
        return true;
      },
    },
    { maxQueue: 100, ...limits },
  );
  const threads = names.map((name) => new FakeThread(name));
  for (const thread of threads) {
    thread.lane = scheduler.add(thread);
    scheduler.open(thread.lane, now);
  }
  return {
    scheduler,
    threads,
    at(ms: number): number {
      now = ms;
      return now;
    },
    now: () => now,
    /** The loop reads the answers `thread` sent: each finishes its job in the scheduler. */
    deliver(thread: FakeThread): void {
      for (let job = thread.answers.shift(); job !== undefined; job = thread.answers.shift()) {
        assert.equal(thread.lane.running, job, `${thread.name} answered ${job.name} out of turn`);
        scheduler.finish(thread.lane, now);
      }
    },
    submit(...jobs: TestJob[]) {
      return jobs.map((job) => scheduler.submit(job, now));
    },
  };
}

const jobs = (count: number, rule: string | null = null): TestJob[] =>
  Array.from({ length: count }, (_, i) => new TestJob(`j${i + 1}`, rule));

describe("Scheduler", () => {
  it("runs a job on an idle thread at once, the least busy first", () => {
    const { threads, submit } = setup(["A", "B"]);
    const [a, b] = threads as [FakeThread, FakeThread];
    assert.deepEqual(submit(...jobs(2)), ["started", "started"]);
    assert.equal(a.running?.name, "j1");
    assert.equal(b.running?.name, "j2");
  });

  it("sends a job ahead to a busy thread: finishing, the thread finds its next job already there", () => {
    const { threads, submit, deliver, at } = setup(["A"]);
    const [a] = threads as [FakeThread];
    const [j1, j2] = jobs(2);
    assert.deepEqual(submit(j1 as TestJob, j2 as TestJob), ["started", "ahead"]);
    at(1);
    a.complete();
    // The thread went straight on to j2, before the loop even read j1's answer.
    assert.equal(a.running, j2);
    deliver(a);
    assert.equal(a.lane.running, j2, "the loop knows j2 runs");
    assert.deepEqual(
      a.starts.map((job) => job.name),
      ["j1"],
      "j2 needed no message after j1 finished",
    );
  });

  it("spreads jobs sent ahead over the busy threads, fewest first", () => {
    const { threads, submit } = setup(["A", "B"]);
    const [a, b] = threads as [FakeThread, FakeThread];
    submit(...jobs(6));
    assert.equal(a.lane.ahead.length, 2);
    assert.equal(b.lane.ahead.length, 2);
  });

  it("lets an idle thread take back a job sent ahead behind a slow one", () => {
    const { scheduler, threads, submit, deliver, at } = setup(["A", "B"]);
    const [a, b] = threads as [FakeThread, FakeThread];
    const [slow, short, waiting] = jobs(3);
    assert.deepEqual(submit(slow as TestJob, short as TestJob, waiting as TestJob), [
      "started",
      "started",
      "ahead",
    ]);
    assert.deepEqual(a.lane.ahead, [waiting], "sent ahead to A, behind the slow job");
    at(1);
    b.complete();
    deliver(b);
    // B fell idle: it took the job back from A instead of idling while A runs the slow one.
    assert.equal(b.running, waiting);
    assert.deepEqual(a.lane.ahead, []);
    assert.equal(scheduler.takenBack, 1);
    assert.equal(scheduler.sentAhead, 1);
    at(500);
    a.complete();
    assert.equal(a.running, null, "A never started the job taken back");
    assert.deepEqual(a.ran, [slow]);
  });

  it("moves what waits behind a job that has run SLOW_MS to a thread that is free sooner", () => {
    const { scheduler, threads, submit, deliver, at } = setup(["A", "B"]);
    const [a, b] = threads as [FakeThread, FakeThread];
    const [j1, j2, j3, j4, j5, j6] = jobs(6) as TestJob[] as [
      TestJob,
      TestJob,
      TestJob,
      TestJob,
      TestJob,
      TestJob,
    ];
    submit(j1, j2, j3, j4, j5, j6);
    assert.deepEqual(a.lane.ahead, [j3, j5]);
    assert.deepEqual(b.lane.ahead, [j4, j6]);
    // j2 finishes as j1 has run SLOW_MS: what waits behind j1 goes to B, whose j4 just began.
    at(SLOW_MS);
    b.complete();
    deliver(b);
    assert.deepEqual(a.lane.ahead, []);
    assert.deepEqual(b.lane.ahead, [j6, j3, j5]);
    assert.equal(scheduler.takenBack, 2);
    assert.equal(scheduler.sentAhead, 6, "four at first, then two again to B");
    assert.deepEqual(a.ran, [j1], "A never starts them");
  });

  it("takes back what waits behind a job whose thread says it may be slow, or that streams", () => {
    for (const turn of ["saidSlow", "streams"] as const) {
      const { scheduler, threads, submit, now } = setup(["A"]);
      const [a] = threads as [FakeThread];
      submit(...jobs(3));
      scheduler[turn](a.lane, now());
      assert.deepEqual(a.lane.ahead, [], turn);
      assert.equal(scheduler.waiting(), 2, turn);
      assert.equal(scheduler.submit(new TestJob("j4"), now()), "queued", turn);
    }
  });

  it("sends nothing ahead to a thread whose route was slow last time", () => {
    const { scheduler, threads, submit, deliver, at } = setup(["A"]);
    const [a] = threads as [FakeThread];
    // The first job on the route is not known slow: a job is sent ahead, then taken back once
    // the thread says so.
    assert.deepEqual(submit(new TestJob("s1", "/slow"), new TestJob("q1", "/quick")), [
      "started",
      "ahead",
    ]);
    scheduler.saidSlow(a.lane, 0);
    assert.equal(scheduler.takenBack, 1);
    at(50);
    a.complete();
    deliver(a);
    a.complete();
    deliver(a);
    // The next job on the slow route is known slow from its start.
    assert.deepEqual(submit(new TestJob("s2", "/slow"), new TestJob("q2", "/quick")), [
      "started",
      "queued",
    ]);
    assert.equal(scheduler.takenBack, 1, "nothing was sent ahead only to be taken back");
  });

  it("forgets a route's slowness once its thread no longer says so", () => {
    const { scheduler, threads, submit, deliver } = setup(["A"]);
    const [a] = threads as [FakeThread];
    submit(new TestJob("s1", "/r"));
    scheduler.saidSlow(a.lane, 0);
    a.complete();
    deliver(a);
    submit(new TestJob("s2", "/r"));
    a.complete();
    deliver(a);
    assert.deepEqual(submit(new TestJob("s3", "/r"), new TestJob("q", "/q")), ["started", "ahead"]);
  });

  it("never sends ahead a job that may not wait (a cancellable call)", () => {
    const { submit } = setup(["A"]);
    assert.deepEqual(submit(new TestJob("j1"), new TestJob("call", null, { mayWait: false })), [
      "started",
      "queued",
    ]);
  });

  it("refuses a job at once when the queue and the jobs sent ahead reach maxQueue", () => {
    const { scheduler, submit } = setup(["A"], { maxQueue: 2 });
    assert.deepEqual(submit(...jobs(4)), ["started", "ahead", "ahead", "full"]);
    assert.equal(scheduler.waiting(), 2);
  });

  it("runs every job of a burst once, in order, on one thread, while take-backs race it", () => {
    const { scheduler, threads, submit, deliver, at } = setup(["A"]);
    const [a] = threads as [FakeThread];
    const burst = jobs(8);
    submit(...burst);
    // The thread runs ahead of the loop, which has not read its answers yet.
    a.complete();
    a.complete();
    assert.equal(a.running?.name, "j3");
    // The thread says j1 may be slow; as the loop takes back what waits, the thread goes on.
    a.racing = true;
    scheduler.saidSlow(a.lane, 0);
    a.racing = false;
    // Everything runs to the end.
    for (let t = 1; a.running !== null || a.answers.length > 0; t += 1) {
      at(t);
      if (a.running !== null) a.complete();
      deliver(a);
    }
    assert.deepEqual(
      a.ran.map((job) => job.name),
      burst.map((job) => job.name),
    );
  });

  it("gives what a leaving thread had not started back, to the front of the queue in order", () => {
    const { scheduler, threads, submit } = setup(["A"]);
    const [a] = threads as [FakeThread];
    const burst = jobs(5);
    submit(...burst);
    a.complete();
    const held = scheduler.remove(a.lane);
    assert.equal(held.running, burst[0]);
    assert.deepEqual(held.started, [burst[1]]);
    assert.deepEqual(held.taken, burst.slice(2));
  });

  it("starts no job on a thread that has served its share (it is to be replaced)", () => {
    const { scheduler, threads } = setup([]);
    assert.deepEqual(threads, []);
    const thread = new FakeThread("R");
    thread.lane = scheduler.add(thread, 1);
    scheduler.open(thread.lane, 0);
    assert.deepEqual(
      [scheduler.submit(new TestJob("j1"), 0), scheduler.submit(new TestJob("j2"), 0)],
      ["started", "queued"],
    );
    thread.complete();
    scheduler.finish(thread.lane, 1);
    assert.ok(scheduler.retiring(thread.lane));
    assert.equal(scheduler.waiting(), 1, "j2 waits for the replacement");
  });
});
