import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BadGateway,
  BadRequest,
  Blueprint,
  CarafeError,
  Conflict,
  ExpectationFailed,
  FailedDependency,
  Forbidden,
  GatewayTimeout,
  Gone,
  HTTPException,
  HTTPVersionNotSupported,
  ImATeapot,
  InternalServerError,
  LengthRequired,
  Locked,
  MethodNotAllowed,
  NotAcceptable,
  NotFound,
  NotImplemented,
  PreconditionFailed,
  PreconditionRequired,
  RequestEntityTooLarge,
  RequestHeaderFieldsTooLarge,
  RequestTimeout,
  RequestURITooLarge,
  RequestedRangeNotSatisfiable,
  Response,
  ServiceUnavailable,
  TooManyRequests,
  Unauthorized,
  UnavailableForLegalReasons,
  UnprocessableEntity,
  UnsupportedMediaType,
  abort,
  json,
  makeResponse,
} from "carafe";
import { type LoggedError, captureLogs, newApp } from "../helpers.ts";

type HttpErrorClass = new (description?: string) => HTTPException;

const HTTP_ERRORS: [HttpErrorClass, number, string][] = [
  [BadRequest, 400, "Bad Request"],
  [Unauthorized, 401, "Unauthorized"],
  [Forbidden, 403, "Forbidden"],
  [NotFound, 404, "Not Found"],
  [NotAcceptable, 406, "Not Acceptable"],
  [RequestTimeout, 408, "Request Timeout"],
  [Conflict, 409, "Conflict"],
  [Gone, 410, "Gone"],
  [LengthRequired, 411, "Length Required"],
  [PreconditionFailed, 412, "Precondition Failed"],
  [RequestEntityTooLarge, 413, "Request Entity Too Large"],
  [RequestURITooLarge, 414, "Request-URI Too Large"],
  [UnsupportedMediaType, 415, "Unsupported Media Type"],
  [RequestedRangeNotSatisfiable, 416, "Requested Range Not Satisfiable"],
  [ExpectationFailed, 417, "Expectation Failed"],
  [ImATeapot, 418, "I'm a teapot"],
  [UnprocessableEntity, 422, "Unprocessable Entity"],
  [Locked, 423, "Locked"],
  [FailedDependency, 424, "Failed Dependency"],
  [PreconditionRequired, 428, "Precondition Required"],
  [TooManyRequests, 429, "Too Many Requests"],
  [RequestHeaderFieldsTooLarge, 431, "Request Header Fields Too Large"],
  [UnavailableForLegalReasons, 451, "Unavailable For Legal Reasons"],
  [InternalServerError, 500, "Internal Server Error"],
  [NotImplemented, 501, "Not Implemented"],
  [BadGateway, 502, "Bad Gateway"],
  [ServiceUnavailable, 503, "Service Unavailable"],
  [GatewayTimeout, 504, "Gateway Timeout"],
  [HTTPVersionNotSupported, 505, "HTTP Version Not Supported"],
];

describe("HTTP error classes", () => {
  for (const [ErrorClass, code, phrase] of HTTP_ERRORS) {
    it(`${ErrorClass.name} has code ${code}, a default description and is an HTTPException`, () => {
      const error = new ErrorClass();
      assert.equal(error.status, code);
      assert.equal(error.phrase, phrase);
      assert.equal(error.name, ErrorClass.name);
      assert.ok(error instanceof HTTPException);
      assert.ok(error instanceof Error);
      assert.ok(error.description.length > 10, "the default description says something");
      assert.equal(error.message, error.description);
      const custom = new ErrorClass("Custom words.");
      assert.equal(custom.description, "Custom words.");
      assert.equal(custom.status, code);
    });
  }

  it("gives every class its own default description", () => {
    const descriptions = new Set(HTTP_ERRORS.map(([ErrorClass]) => new ErrorClass().description));
    assert.equal(descriptions.size, HTTP_ERRORS.length);
  });

  it("answers each status with its code, phrase and description", async () => {
    const app = newApp();
    app.get("/<int:code>", (req) => abort(req.params.code as number));
    const client = app.testClient();
    for (const [ErrorClass, code, phrase] of HTTP_ERRORS) {
      const res = await client.get(`/${code}`, { headers: { accept: "application/json" } });
      assert.equal(res.status, code);
      assert.deepEqual(res.json(), {
        error: { status: code, name: phrase, description: new ErrorClass().description },
      });
    }
  });

  it("MethodNotAllowed has code 405 and lists the valid methods in Allow", () => {
    const error = new MethodNotAllowed(["GET", "POST"]);
    assert.equal(error.status, 405);
    assert.ok(error instanceof HTTPException);
    assert.deepEqual(error.validMethods, ["GET", "POST"]);
    assert.equal(error.headers["Allow"], "GET, POST");
  });

  it("sends the headers and keeps the cause an HTTPException was given", async () => {
    const app = newApp();
    const cause = new Error("token expired");
    app.get("/", () => {
      throw new Unauthorized("Log in first.", {
        headers: { "WWW-Authenticate": 'Bearer realm="api"' },
        cause,
      });
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="api"');
    assert.match(res.text(), /Log in first\./);
    assert.equal(new Unauthorized("x", { cause }).cause, cause);
  });

  it("escapes the description in the HTML error page", async () => {
    const app = newApp();
    app.get("/", () => abort(400, "<script>alert(1)</script>"));
    const res = await app.testClient().get("/");
    assert.equal(res.status, 400);
    assert.equal(res.mimetype, "text/html");
    assert.doesNotMatch(res.text(), /<script>/);
    assert.match(res.text(), /&#60;script&#62;/);
  });
});

class ValidationFailed extends Error {
  constructor(readonly field: string) {
    super(`invalid ${field}`);
  }
}

class AppError extends Error {}
class PaymentRequired extends AppError {}
class CardDeclined extends PaymentRequired {}

describe("errorHandler", () => {
  it("handles an error status by code, for both raised errors and routing misses", async () => {
    const app = newApp();
    app.errorHandler(404, (error) => makeResponse(`custom 404: ${error.description}`, 404));
    app.get("/missing", () => abort(404, "No such item."));
    const client = app.testClient();
    const raised = await client.get("/missing");
    assert.equal(raised.status, 404);
    assert.equal(raised.text(), "custom 404: No such item.");
    const unrouted = await client.get("/nowhere");
    assert.equal(unrouted.status, 404);
    assert.match(unrouted.text(), /^custom 404: /);
  });

  it("handles an HTTP error by its class", async () => {
    const app = newApp();
    app.errorHandler(Forbidden, (error) => json({ denied: error.description }, 403));
    app.get("/", () => {
      throw new Forbidden("staff only");
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 403);
    assert.deepEqual(res.json(), { denied: "staff only" });
  });

  it("keeps the status of the handler's return value, 200 unless it says otherwise", async () => {
    const app = newApp();
    app.errorHandler(404, () => "soft landing");
    const res = await app.testClient().get("/nowhere");
    assert.equal(res.status, 200);
    assert.equal(res.text(), "soft landing");
  });

  it("handles a user Error subclass", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.errorHandler(ValidationFailed, (error) => json({ field: error.field }, 422));
    app.post("/", () => {
      throw new ValidationFailed("email");
    });
    const res = await app.testClient().post("/");
    assert.equal(res.status, 422);
    assert.deepEqual(res.json(), { field: "email" });
    assert.deepEqual(errors, [], "a handled error is not logged");
  });

  it("lets a handler for a base class catch its subclasses", async () => {
    const app = newApp();
    app.errorHandler(AppError, (error) =>
      makeResponse(`app error: ${error.constructor.name}`, 400),
    );
    app.get("/declined", () => {
      throw new CardDeclined();
    });
    app.get("/type", () => {
      throw new TypeError("not an AppError");
    });
    const client = app.testClient();
    const res = await client.get("/declined");
    assert.equal(res.status, 400);
    assert.equal(res.text(), "app error: CardDeclined");
    captureLogs(app);
    assert.equal((await client.get("/type")).status, 500);
  });

  it("prefers the most specific class over a base class", async () => {
    const app = newApp();
    app.errorHandler(AppError, () => makeResponse("base", 400));
    app.errorHandler(PaymentRequired, () => makeResponse("payment", 402));
    app.get("/declined", () => {
      throw new CardDeclined();
    });
    app.get("/app", () => {
      throw new AppError();
    });
    const client = app.testClient();
    const declined = await client.get("/declined");
    assert.equal(declined.status, 402);
    assert.equal(declined.text(), "payment");
    assert.equal((await client.get("/app")).text(), "base");
  });

  it("lets a handler for Error catch any thrown error", async () => {
    const app = newApp();
    app.errorHandler(Error, (error) => makeResponse(`caught ${error.name}`, 500));
    app.get("/", () => {
      throw new RangeError("out of range");
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 500);
    assert.equal(res.text(), "caught RangeError");
  });

  it("lets a handler for HTTPException catch every HTTP error", async () => {
    const app = newApp();
    app.errorHandler(HTTPException, (error) => json({ code: error.status }, error.status));
    app.get("/gone", () => abort(410));
    const client = app.testClient();
    assert.deepEqual((await client.get("/gone")).json(), { code: 410 });
    assert.deepEqual((await client.get("/nowhere")).json(), { code: 404 });
  });

  it("prefers a handler by status code over a handler by HTTPException", async () => {
    const app = newApp();
    app.errorHandler(HTTPException, () => "generic");
    app.errorHandler(404, () => "by code");
    const res = await app.testClient().get("/nowhere");
    assert.equal(res.text(), "by code");
  });

  it("runs async error handlers", async () => {
    const app = newApp();
    app.errorHandler(ValidationFailed, async (error) => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return json({ field: error.field }, 422);
    });
    app.get("/", () => {
      throw new ValidationFailed("name");
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 422);
    assert.deepEqual(res.json(), { field: "name" });
  });

  it("refuses a status outside 400-599", () => {
    const app = newApp();
    for (const status of [200, 302, 600, 404.5]) {
      assert.throws(
        () => app.errorHandler(status, () => "x"),
        (error) => error instanceof CarafeError && error.code === "ERR_BAD_ERROR_HANDLER",
      );
    }
  });
});

describe("unhandled exceptions", () => {
  it("answer 500 with a generic body and log the error with its stack", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    const secret = "db password is hunter2";
    let thrown: Error | undefined;
    app.get("/boom", function boom() {
      thrown = new Error(secret);
      throw thrown;
    });
    const res = await app.testClient().get("/boom");
    assert.equal(res.status, 500);
    assert.equal(res.mimetype, "text/html");
    assert.match(res.text(), /Internal Server Error/);
    assert.doesNotMatch(res.text(), /hunter2/);
    assert.doesNotMatch(res.text(), /boom/);
    assert.doesNotMatch(res.text(), /\bat /);
    assert.equal(errors.length, 1);
    const logged = errors[0] as LoggedError;
    assert.match(logged.message, /\/boom/);
    assert.match(logged.message, /GET/);
    assert.equal(logged.error, thrown);
    assert.match((logged.error as Error).stack ?? "", /hunter2[\s\S]*\n\s+at /);
  });

  it("answer 500 for a rejected promise in an async view", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.get("/", async () => {
      await Promise.resolve();
      throw new Error("async failure");
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 500);
    assert.doesNotMatch(res.text(), /async failure/);
    assert.equal(errors.length, 1);
    assert.equal((errors[0]?.error as Error).message, "async failure");
  });

  it("also handle thrown non-Error values", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.get("/", () => {
      throw "a string";
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 500);
    assert.doesNotMatch(res.text(), /a string/);
    assert.equal(errors[0]?.error, "a string");
  });

  it("show the message and stack in the response in debug mode", async () => {
    const app = newApp({ debug: true });
    captureLogs(app);
    app.get("/boom", function explode() {
      throw new Error("visible <detail>");
    });
    const res = await app.testClient().get("/boom");
    assert.equal(res.status, 500);
    assert.match(res.text(), /visible &#60;detail&#62;/);
    assert.match(res.text(), /\n\s+at \S*explode \([^)]*errors\.test\.ts:\d+/);
  });

  it("hide the stack in debug mode from a client that is not on loopback", async () => {
    const app = newApp({ debug: true });
    captureLogs(app);
    app.get("/boom", () => {
      throw new Error("secret detail");
    });
    const remote = await app.testClient().get("/boom", { remoteAddress: "203.0.113.5" });
    assert.equal(remote.status, 500);
    assert.doesNotMatch(remote.text(), /secret detail/);
    const local = await app.testClient().get("/boom", { remoteAddress: "::1" });
    assert.match(local.text(), /secret detail/);
  });

  it("go to a 500 handler, which receives InternalServerError with the original as cause", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    const original = new Error("original");
    let received: unknown;
    app.errorHandler(500, (error) => {
      received = error;
      return makeResponse("sorry", 500);
    });
    app.get("/", () => {
      throw original;
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 500);
    assert.equal(res.text(), "sorry");
    assert.ok(received instanceof InternalServerError);
    assert.equal(received.cause, original);
    assert.equal(errors.length, 1, "the original error is still logged");
  });

  it("answer a JSON body when Accept prefers application/json", async () => {
    const app = newApp();
    captureLogs(app);
    app.get("/", () => {
      throw new Error("hidden detail");
    });
    const res = await app.testClient().get("/", { headers: { accept: "application/json" } });
    assert.equal(res.status, 500);
    assert.equal(res.mimetype, "application/json");
    assert.deepEqual(res.json(), {
      error: {
        status: 500,
        name: "Internal Server Error",
        description: new InternalServerError().description,
      },
    });
  });
});

describe("failing error handlers", () => {
  it("answer 500 when the handler of a user error throws", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    const handlerError = new Error("handler broke");
    app.errorHandler(ValidationFailed, () => {
      throw handlerError;
    });
    app.get("/", () => {
      throw new ValidationFailed("x");
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 500);
    assert.doesNotMatch(res.text(), /handler broke/);
    assert.ok(errors.some((entry) => entry.error === handlerError));
  });

  it("answer 500 when the handler of an HTTP error throws", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.errorHandler(404, async () => {
      await Promise.resolve();
      throw new Error("404 handler broke");
    });
    const res = await app.testClient().get("/nowhere");
    assert.equal(res.status, 500);
    assert.equal(errors.length, 1);
  });

  it("answer the generic 500 and log both errors when the 500 handler throws", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    const original = new Error("first");
    const second = new Error("second");
    app.errorHandler(500, () => {
      throw second;
    });
    app.get("/", () => {
      throw original;
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 500);
    assert.match(res.text(), /Internal Server Error/);
    assert.doesNotMatch(res.text(), /first|second/);
    assert.deepEqual(
      errors.map((entry) => entry.error),
      [original, second],
    );
  });

  it("answer 500 when the handler returns something that is not a response", async () => {
    const app = newApp();
    const errors = captureLogs(app);
    app.errorHandler(ValidationFailed, () => undefined as unknown as string);
    app.get("/", () => {
      throw new ValidationFailed("x");
    });
    const res = await app.testClient().get("/");
    assert.equal(res.status, 500);
    assert.equal(errors.length, 1);
  });
});

describe("error responses and blueprints", () => {
  it("answers a JSON error body only when Accept prefers JSON over HTML", async () => {
    const app = newApp();
    app.get("/", () => abort(409, "taken"));
    const client = app.testClient();
    const asJson = await client.get("/", { headers: { accept: "application/json" } });
    assert.equal(asJson.mimetype, "application/json");
    assert.deepEqual(asJson.json(), {
      error: { status: 409, name: "Conflict", description: "taken" },
    });
    const browser = await client.get("/", {
      headers: { accept: "text/html,application/xhtml+xml,application/json;q=0.9" },
    });
    assert.equal(browser.mimetype, "text/html");
    const none = await client.get("/");
    assert.equal(none.mimetype, "text/html");
  });

  it("uses the app's handler for errors raised in a blueprint without its own", async () => {
    const app = newApp();
    const bp = new Blueprint("shop");
    bp.get("/buy", () => {
      throw new CardDeclined();
    });
    app.errorHandler(AppError, () => new Response("app handled", { status: 402 }));
    app.registerBlueprint(bp, { urlPrefix: "/shop" });
    const res = await app.testClient().get("/shop/buy");
    assert.equal(res.status, 402);
    assert.equal(res.text(), "app handled");
  });
});
