// The event-loop watchdog: a handler that runs on the event loop and holds it (CPU work, a
// synchronous driver call) stalls every other request of the process. The loop measures how
// long each request held it; past the threshold the watchdog says so once per route, naming
// the way out.

import type { RequestRecord } from "../../framework/internal.ts";

/** What the watchdog needs of an app: which rule a request matched. */
export interface RuleLookup {
  ruleOf?(method: string, url: string): string | undefined;
}

/**
 * Returns the loop's `watchdog` callback: warns once per route whose handler held the event
 * loop longer than `thresholdMs`.
 */
export function createWatchdog(
  app: RuleLookup,
  thresholdMs: number,
  warn: (message: string) => void,
): (record: RequestRecord, elapsedMs: number) => void {
  const warned = new Set<string>();
  return (record, elapsedMs) => {
    if (elapsedMs < thresholdMs) return;
    const path = record.url.split("?")[0] ?? record.url;
    const route = `${record.method} ${app.ruleOf?.(record.method, record.url) ?? path}`;
    if (warned.has(route)) return;
    warned.add(route);
    warn(
      `${route} held the event loop for ${Math.round(elapsedMs)} ms (threshold ${thresholdMs} ms), stalling every other request of this process; mark the route { thread: true } or serve with --threads N to run it on a pool thread`,
    );
  };
}
