// The chat example (examples/chat) end to end: `carafe serve --workers 2` and headless Chromium.
// Two pages, each in its own browser context (its own cookies and connections), join one room
// with their WebSockets on different worker processes (each page shows the pid of the worker
// that greeted its socket), and messages typed into one appear in the other. So this verifies
// the page, its script and broadcast through the supervisor from one process to the other.
import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { WebSocket as Client } from "ws";
import {
  allListening,
  bootedPids,
  fetchReply,
  startServe,
  type ServeProcess,
} from "./serve-process.ts";

/** Debian's Chromium (`apt-get install chromium`), or the browser that CHROMIUM_PATH names. */
const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const chromiumMissing = existsSync(CHROMIUM)
  ? false
  : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;

/** A page in the chat, and the pid of the worker process its socket is on. */
interface Member {
  page: Page;
  worker: number;
}

describe("the chat example in Chromium", { skip: chromiumMissing }, () => {
  // Set by `before`; `after` copes with either missing when `before` failed.
  let server!: ServeProcess;
  let browser!: Browser;

  before(async () => {
    server = await startServe([
      "examples/chat/app.ts:app",
      "--workers",
      "2",
      "--bind",
      "127.0.0.1:0",
      "--log-level",
      "debug",
    ]);
    await allListening(server, 2);
    // Playwright starts Chromium with --no-sandbox (its default), which root in a container needs.
    browser = await chromium.launch({ executablePath: CHROMIUM });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Opens the room as `name` in a new browser context, once the server has greeted its socket. */
  async function join(room: string, name: string): Promise<Member> {
    const context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const query = new URLSearchParams({ room, name });
    await page.goto(`${server.url}/?${query}`);
    const worker = await page.locator("#status[data-worker]").getAttribute("data-worker");
    return { page, worker: Number(worker) };
  }

  /** Joins `room` as `name` until the socket is on another worker process than `other`'s. */
  async function joinElsewhere(room: string, name: string, other: Member): Promise<Member> {
    const seen: number[] = [];
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const member = await join(room, name);
      if (member.worker !== other.worker) return member;
      seen.push(member.worker);
      await member.page.context().close();
      // node:cluster hands new connections to the workers in turn, and each page opens two
      // (the page, then its socket): one more connection lets the next socket land elsewhere.
      await fetchReply(`${server.url}/`);
    }
    assert.fail(`every socket of ${name} joined worker ${other.worker}: ${seen.join(", ")}`);
  }

  /** Types `text` into the page's message box and sends it with Enter. */
  async function say(member: Member, text: string): Promise<void> {
    const box = member.page.getByPlaceholder(/^Message as /);
    await box.fill(text);
    await box.press("Enter");
  }

  /** Waits until the page shows `text` from `name`, and checks it is shown as text. */
  async function expectShown(member: Member, name: string, text: string): Promise<void> {
    const line = member.page.locator("#messages li").filter({ hasText: text });
    await line.waitFor();
    assert.equal(await line.locator(".name").textContent(), name);
    assert.equal(await line.locator(".text").textContent(), text);
    assert.equal(await line.locator(".text *").count(), 0, "the message became markup");
  }

  it("carries messages both ways between pages on different worker processes", async () => {
    const ada = await join("lobby", "ada");
    const alan = await joinElsewhere("lobby", "alan", ada);
    const workers = bootedPids(server.lines);
    assert.ok(workers.includes(ada.worker) && workers.includes(alan.worker), `${workers}`);

    await say(ada, "Hello from Ada");
    await expectShown(alan, "ada", "Hello from Ada");
    await expectShown(ada, "ada", "Hello from Ada");

    await alan.page.getByPlaceholder(/^Message as /).fill("Hi <b>Ada</b> & <img src=x>");
    await alan.page.getByRole("button", { name: "Send" }).click();
    await expectShown(ada, "alan", "Hi <b>Ada</b> & <img src=x>");
    await expectShown(alan, "alan", "Hi <b>Ada</b> & <img src=x>");
  });

  it("drops what is not a {name, text} message within bounds", async () => {
    const ada = await join("drops", "ada");
    // A raw client on the same room: whichever worker it is on, what it sends reaches ada's
    // page in order, so once the last, valid, message shows, any bad one would have too.
    const url = server.url.replace("http://", "ws://");
    const raw = new Client(`${url}/ws/drops`);
    await once(raw, "message"); // the greeting: the socket is in the room
    for (const bad of [
      "not json",
      "null",
      JSON.stringify({ name: "eve" }),
      JSON.stringify({ name: "eve", text: 42 }),
      JSON.stringify({ name: "   ", text: "blank name" }),
      JSON.stringify({ name: "e".repeat(33), text: "long name" }),
      JSON.stringify({ name: "eve", text: "x".repeat(501) }),
    ]) {
      raw.send(bad);
    }
    raw.send(Buffer.from("binary"));
    raw.send(JSON.stringify({ name: " eve ", text: " the last word " }));
    await expectShown(ada, "eve", "the last word");
    assert.equal(await ada.page.locator("#messages li").count(), 1);
    raw.close();
  });
});
