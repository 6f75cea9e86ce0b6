// Errors of the framework layer: `CarafeError` for misuse of the API (a stable `code`, a message
// that says what to do) and one `HTTPException` subclass per status, each with a default
// description, raised by handlers (`abort(404)`, `throw new NotFound()`) and by Carafe itself.

/** Base of every error the framework throws for misuse; `code` is stable across releases. */
export class CarafeError extends Error {
  override name = "CarafeError";
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A URL could not be built by `urlFor` (unknown endpoint, missing parameter, bad value). */
export class BuildError extends CarafeError {
  override name = "BuildError";
  constructor(message: string) {
    super("ERR_URL_BUILD", message);
  }
}

/** Options accepted by every HTTP exception. */
export interface HTTPExceptionOptions {
  /** Extra response headers, e.g. `WWW-Authenticate`. */
  headers?: Record<string, string>;
  /** The underlying error, kept for logs and error handlers. */
  cause?: unknown;
}

/**
 * An error that becomes an HTTP response. Throw one (or call `abort`) anywhere in a request.
 *
 * @example
 * throw new NotFound("No user with id 7.");
 */
export class HTTPException extends Error {
  /**
   * The HTTP status (`404`). Werkzeug calls it `code`; in Carafe `code` is the stable string
   * of a misuse error (`CarafeError`), so a status is always `status`, as on `Response`.
   */
  readonly status: number = 500;
  /** The human-readable explanation shown in the error page. */
  readonly description: string;
  /** Extra headers sent with the error response. */
  readonly headers: Record<string, string>;

  constructor(description?: string, options: HTTPExceptionOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.description = description ?? "";
    this.headers = { ...options.headers };
  }

  /** The reason phrase, e.g. `Not Found`. */
  get phrase(): string {
    return STATUS_PHRASES[this.status] ?? "Unknown Error";
  }
}

function defineHttpError(status: number, name: string, description: string) {
  const ErrorClass = class extends HTTPException {
    override readonly status = status;
    constructor(message?: string, options?: HTTPExceptionOptions) {
      super(message ?? description, options);
    }
  };
  Object.defineProperty(ErrorClass, "name", { value: name });
  ErrorClass.prototype.name = name;
  return ErrorClass;
}

/** 400: the request could not be understood. */
export const BadRequest = defineHttpError(
  400,
  "BadRequest",
  "The server could not understand this request.",
);
/** 401: credentials are missing or wrong. */
export const Unauthorized = defineHttpError(
  401,
  "Unauthorized",
  "This resource needs valid credentials.",
);
/** 403: the client may not access this resource. */
export const Forbidden = defineHttpError(
  403,
  "Forbidden",
  "You do not have permission to access this resource.",
);
/** 404: nothing is served at this URL. */
export const NotFound = defineHttpError(
  404,
  "NotFound",
  "Nothing is served at this URL. Check the address for typos.",
);
/** 406: no representation matches the `Accept` headers. */
export const NotAcceptable = defineHttpError(
  406,
  "NotAcceptable",
  "The resource has no representation matching the request's Accept headers.",
);
/** 408: the client took too long to send the request. */
export const RequestTimeout = defineHttpError(
  408,
  "RequestTimeout",
  "The request took too long to arrive.",
);
/** 409: the request conflicts with the current state of the resource. */
export const Conflict = defineHttpError(
  409,
  "Conflict",
  "The request conflicts with the current state of the resource.",
);
/** 410: the resource existed but is gone for good. */
export const Gone = defineHttpError(410, "Gone", "This resource is no longer available.");
/** 411: a `Content-Length` header is required. */
export const LengthRequired = defineHttpError(
  411,
  "LengthRequired",
  "This request needs a Content-Length header.",
);
/** 412: a precondition header did not hold. */
export const PreconditionFailed = defineHttpError(
  412,
  "PreconditionFailed",
  "A precondition of the request did not hold.",
);
/** 413: the request body is larger than `maxContentLength`. */
export const RequestEntityTooLarge = defineHttpError(
  413,
  "RequestEntityTooLarge",
  "The request body is larger than this server accepts.",
);
/** The 413 for a body over `maxContentLength`, naming the limit when there is one. @internal */
export function bodyTooLarge(limit: number | null): InstanceType<typeof RequestEntityTooLarge> {
  return new RequestEntityTooLarge(
    limit === null
      ? undefined
      : `The request body is larger than the limit of ${limit} bytes (maxContentLength).`,
  );
}

/** 414: the URL is too long. */
export const RequestURITooLarge = defineHttpError(
  414,
  "RequestURITooLarge",
  "The request URL is longer than this server accepts.",
);
/** 415: the body's media type is not supported here. */
export const UnsupportedMediaType = defineHttpError(
  415,
  "UnsupportedMediaType",
  "The request body's media type is not supported by this resource.",
);
/** 416: the requested byte range cannot be served. */
export const RequestedRangeNotSatisfiable = defineHttpError(
  416,
  "RequestedRangeNotSatisfiable",
  "The requested range lies outside the resource.",
);
/** 417: the `Expect` header cannot be met. */
export const ExpectationFailed = defineHttpError(
  417,
  "ExpectationFailed",
  "The server cannot meet the request's Expect header.",
);
/** 418: the server is a teapot. */
export const ImATeapot = defineHttpError(418, "ImATeapot", "This server is a teapot.");
/** 422: the body is well-formed but its content is invalid. */
export const UnprocessableEntity = defineHttpError(
  422,
  "UnprocessableEntity",
  "The request was well-formed but its content is invalid.",
);
/** 423: the resource is locked. */
export const Locked = defineHttpError(423, "Locked", "The resource is locked.");
/** 424: a request this one depends on failed. */
export const FailedDependency = defineHttpError(
  424,
  "FailedDependency",
  "A request this one depends on failed.",
);
/** 428: the request must be conditional. */
export const PreconditionRequired = defineHttpError(
  428,
  "PreconditionRequired",
  "This request must be conditional (If-Match or If-Unmodified-Since).",
);
/** 429: too many requests; see `Retry-After`. */
export const TooManyRequests = defineHttpError(
  429,
  "TooManyRequests",
  "Too many requests in a short time. Try again later.",
);
/** 431: the request headers are too large. */
export const RequestHeaderFieldsTooLarge = defineHttpError(
  431,
  "RequestHeaderFieldsTooLarge",
  "The request's headers are larger than this server accepts.",
);
/** 451: unavailable for legal reasons. */
export const UnavailableForLegalReasons = defineHttpError(
  451,
  "UnavailableForLegalReasons",
  "This resource is unavailable for legal reasons.",
);
/** 500: the server failed while handling the request. */
export const InternalServerError = defineHttpError(
  500,
  "InternalServerError",
  "The server failed while handling this request. The error has been logged.",
);
/** 501: the method is not implemented. */
export const NotImplemented = defineHttpError(
  501,
  "NotImplemented",
  "The server does not implement this method.",
);
/** 502: an upstream server answered badly. */
export const BadGateway = defineHttpError(
  502,
  "BadGateway",
  "An upstream server sent an invalid response.",
);
/** 503: the server cannot take the request now; see `Retry-After`. */
export const ServiceUnavailable = defineHttpError(
  503,
  "ServiceUnavailable",
  "The server cannot take this request right now. Try again later.",
);
/** 504: an upstream server (or the handler) did not answer in time. */
export const GatewayTimeout = defineHttpError(
  504,
  "GatewayTimeout",
  "The request took longer than the server allows.",
);
/** 505: the HTTP version is not supported. */
export const HTTPVersionNotSupported = defineHttpError(
  505,
  "HTTPVersionNotSupported",
  "The server does not support this HTTP version.",
);

/** 405: the URL exists but not for this method; `Allow` lists the ones that work. */
export class MethodNotAllowed extends HTTPException {
  override readonly status = 405;
  /** The methods the URL accepts, sent as `Allow`. */
  readonly validMethods: readonly string[];
  constructor(validMethods: readonly string[] = [], description?: string) {
    super(description ?? "This URL does not accept the request's method.");
    this.validMethods = validMethods;
    if (validMethods.length > 0) this.headers["Allow"] = validMethods.join(", ");
  }
}
MethodNotAllowed.prototype.name = "MethodNotAllowed";

/** A redirect raised by routing (a missing trailing slash answers 308). */
export class RequestRedirect extends HTTPException {
  override readonly status = 308;
  constructor(readonly location: string) {
    super("The resource lives at another URL.");
    this.headers["Location"] = location;
  }
}
RequestRedirect.prototype.name = "RequestRedirect";

/** Constructors of the built-in HTTP exceptions, by status code (used by `abort`). */
export const HTTP_EXCEPTIONS: ReadonlyMap<
  number,
  new (description?: string, options?: HTTPExceptionOptions) => HTTPException
> = new Map(
  [
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    NotAcceptable,
    RequestTimeout,
    Conflict,
    Gone,
    LengthRequired,
    PreconditionFailed,
    RequestEntityTooLarge,
    RequestURITooLarge,
    UnsupportedMediaType,
    RequestedRangeNotSatisfiable,
    ExpectationFailed,
    ImATeapot,
    UnprocessableEntity,
    Locked,
    FailedDependency,
    PreconditionRequired,
    TooManyRequests,
    RequestHeaderFieldsTooLarge,
    UnavailableForLegalReasons,
    InternalServerError,
    NotImplemented,
    BadGateway,
    ServiceUnavailable,
    GatewayTimeout,
    HTTPVersionNotSupported,
  ].map((ErrorClass) => [new ErrorClass().status, ErrorClass]),
);

/** Reason phrases of the status codes Carafe knows. */
export const STATUS_PHRASES: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Request Entity Too Large",
  414: "Request-URI Too Large",
  415: "Unsupported Media Type",
  416: "Requested Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a teapot",
  422: "Unprocessable Entity",
  423: "Locked",
  424: "Failed Dependency",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};
