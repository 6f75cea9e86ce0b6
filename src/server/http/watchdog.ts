// The event-loop watchdog: a handler that runs on the event loop and holds it (CPU work, a
// synchronous driver call) stalls every other request of the process. The loop measures how
// long each request held it; past the threshold the watchdog says so once per route, naming
// the way out.

import type { RequestRecord, RoutePlan } from "../../framework/internal.ts";

/**
 * Returns the loop's `watchdog` callback: warns once per route whose handler held the event
 * loop longer than `thresholdMs`. The route is named by the request's plan (its rule), or by
 * its path when the app names no route.
 */
export function createWatchdog(
  thresholdMs: number,
  warn: (message: string) => void,
): (record: RequestRecord, plan: RoutePlan, elapsedMs: number) => void {
  const warned = new Set<string>();
  return (record, plan, elapsedMs) => {
    if (elapsedMs < thresholdMs) return;
    const path = record.url.split("?")[0] ?? record.url;
    const route = `${record.method} ${plan.rule ?? path}`;
    if (warned.has(route)) return;
    warned.add(route);
    warn(
      `${route} held the event loop for ${Math.round(elapsedMs)} ms (threshold ${thresholdMs} ms), stalling every other request of this process; mark the route { thread: true } or serve with --threads N to run it on a pool thread`,
    );
  };
}
