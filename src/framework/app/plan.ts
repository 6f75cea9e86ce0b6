// A Carafe app's route plan: what `planOf` decides about one request (its rule, where it runs,
// how its body is read) together with the match it found, which `handle` goes on from. One
// small object per request, read by the server and handed back: the route is matched once, and
// nothing of a request stays in the app between the two calls.

import { SKIP_BODY, type BodyPlan, type Placement, type RoutePlan } from "../boundary/records.ts";
import type { MatchResult } from "../routing/url-map.ts";
import { limitOf, placementOf, type RoutePayload } from "./views.ts";

/** The plan of one request to a Carafe app. */
export class RequestPlan implements RoutePlan {
  readonly placement: Placement;

  constructor(
    /** The app that made the plan: only its own plans say anything of its routes. */
    readonly app: object,
    /** The route the request matched, or why none did. */
    readonly match: MatchResult<RoutePayload>,
    threaded: boolean,
    /** The app's body limit, for a route without its own. */
    private readonly appLimit: number,
  ) {
    this.placement = match.kind === "found" ? placementOf(match.rule.payload, threaded) : "loop";
  }

  get rule(): string | null {
    return this.match.kind === "found" ? this.match.rule.rule : null;
  }

  /**
   * Not at all when routing answers without a view (404, 405, a redirect, OPTIONS); as it
   * arrives for a `streamBody` route; else into memory. Either within the route's
   * `maxContentLength`, or the app's. Made when asked: most requests have no body.
   */
  get body(): BodyPlan {
    const match = this.match;
    if (match.kind !== "found") return SKIP_BODY;
    const payload = match.rule.payload;
    return {
      read: payload.streamBody ? "stream" : "buffer",
      limit: limitOf(payload, this.appLimit),
    };
  }
}
