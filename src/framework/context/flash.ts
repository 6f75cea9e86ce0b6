// Message flashing (Flask's `flash`): a message recorded during one request and shown once, by
// the next page that asks for the messages. They live in the session under `_flashes` as
// `[category, message]` pairs (Flask's layout), so they survive the redirect between the two
// requests. The first read in a request takes them out of the session; later reads in the same
// request (a layout and the page it wraps) see the same messages.

import { CarafeError } from "../errors.ts";
import { currentContext, type RequestContext } from "./context.ts";

/** A flashed message with its category: `[category, message]`. */
export type FlashedMessage = [category: string, message: string];

/** Options of `getFlashedMessages`. */
export interface FlashedMessagesOptions {
  /** Return `[category, message]` pairs instead of the messages alone. */
  withCategories?: boolean;
  /** Only the messages of these categories (all when absent or empty). */
  categoryFilter?: readonly string[];
}

const FLASHES = "_flashes";

/** The messages each request took out of its session, for its later reads. */
const taken = new WeakMap<RequestContext, readonly FlashedMessage[]>();

/** The well-formed pairs of a session's `_flashes` value. */
function flashesIn(value: unknown): FlashedMessage[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (pair): pair is FlashedMessage =>
      Array.isArray(pair) &&
      pair.length === 2 &&
      typeof pair[0] === "string" &&
      typeof pair[1] === "string",
  );
}

/**
 * Records a message for the next page that shows messages (`getFlashedMessages`, or
 * `get_flashed_messages()` in a template). Stored in the session, so the app needs a
 * `secretKey`. `category` is free text; Flask's apps use `message`, `error`, `info`, `warning`.
 *
 * @example
 * app.post("/login", (req) => {
 *   if (!checkPasswordHash(user.password, req.form.get("password", ""))) {
 *     flash("Incorrect password.", "error");
 *     return redirect(urlFor("login"));
 *   }
 *   …
 * });
 */
export function flash(message: string, category = "message"): void {
  if (typeof message !== "string" || typeof category !== "string") {
    throw new CarafeError(
      "ERR_BAD_FLASH",
      `flash(message, category) takes strings (got ${typeof message}, ${typeof category}); convert the value with String() first`,
    );
  }
  const session = currentContext("flash()").session;
  session.set(FLASHES, [...flashesIn(session.get(FLASHES)), [category, message]]);
}

/**
 * The messages flashed for this user, oldest first, taken out of the session: the next request
 * sees none of them. Calls later in the same request give the same messages.
 *
 * @example
 * getFlashedMessages(); // ["Saved."]
 * getFlashedMessages({ withCategories: true }); // [["message", "Saved."]]
 * getFlashedMessages({ categoryFilter: ["error"] }); // only the errors
 */
export function getFlashedMessages(
  options?: FlashedMessagesOptions & { withCategories?: false },
): string[];
export function getFlashedMessages(
  options: FlashedMessagesOptions & { withCategories: true },
): FlashedMessage[];
export function getFlashedMessages(options?: FlashedMessagesOptions): string[] | FlashedMessage[];
export function getFlashedMessages(
  options: FlashedMessagesOptions = {},
): string[] | FlashedMessage[] {
  const { withCategories = false, categoryFilter = [] } = options;
  if (!Array.isArray(categoryFilter)) {
    throw new CarafeError(
      "ERR_BAD_FLASH",
      `getFlashedMessages({ categoryFilter }) takes a list of categories, e.g. ["error"] (got ${typeof categoryFilter})`,
    );
  }
  const context = currentContext("getFlashedMessages()");
  let flashes = taken.get(context);
  if (flashes === undefined) {
    const session = context.session;
    flashes = session.has(FLASHES) ? flashesIn(session.pop(FLASHES)) : [];
    taken.set(context, flashes);
  }
  const chosen =
    categoryFilter.length === 0
      ? flashes
      : flashes.filter(([category]) => categoryFilter.includes(category));
  return withCategories
    ? chosen.map(([category, message]): FlashedMessage => [category, message])
    : chosen.map(([, message]) => message);
}
