// The framework layer's public names.

export { Carafe } from "./app.ts";
export { broadcast, currentApp, subscribe, urlFor } from "./current-app.ts";
export type {
  CarafeOptions,
  RegisterBlueprintOptions,
  RoutePayload,
  UrlForOptions,
} from "./app.ts";
export { Blueprint } from "./blueprint.ts";
export type { BlueprintOptions } from "./blueprint.ts";
export type { AppConfig } from "./config.ts";
export { DEFAULT_MAX_CONTENT_LENGTH } from "./config.ts";
export { findContext, g, request, session } from "./context.ts";
export type { AppGlobals, RequestContext } from "./context.ts";
export type { CookieOptions } from "./cookies.ts";
export { HeaderMap, MultiDict, RequestHeaders } from "./datastructures.ts";
export type { HeadersInit } from "./datastructures.ts";
export {
  BadGateway,
  BadRequest,
  bodyTooLarge,
  BuildError,
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
  RequestRedirect,
  RequestTimeout,
  RequestURITooLarge,
  RequestedRangeNotSatisfiable,
  ServiceUnavailable,
  TooManyRequests,
  Unauthorized,
  UnavailableForLegalReasons,
  UnprocessableEntity,
  UnsupportedMediaType,
} from "./errors.ts";
export type { HTTPExceptionOptions } from "./errors.ts";
export { recordFromRequest, responseFromRecord } from "./fetch-adapter.ts";
export { FileStorage } from "./forms.ts";
export type { Logger } from "./logging.ts";
export { bodyPlanOf } from "./records.ts";
export type {
  BodyChunk,
  BodyPlan,
  BodyStream,
  ClientConnection,
  RecordHandler,
  RequestRecord,
  ResponseRecord,
} from "./records.ts";
export { Request } from "./request.ts";
export type { GetJsonOptions } from "./request.ts";
export {
  Response,
  abort,
  exceptionResponse,
  json,
  makeResponse,
  prefersJson,
  redirect,
} from "./response.ts";
export type { ResponseBody, ResponseInit, ResponseValue } from "./response.ts";
export { ValidationError } from "./routing/converters.ts";
export type { Converter, ConverterArg, ConverterFactory } from "./routing/converters.ts";
export type { ConverterTypes, RouteParams } from "./routing/params.ts";
export { UrlMap } from "./routing/url-map.ts";
export type { MatchResult } from "./routing/url-map.ts";
export { appsCreatedIn, runnerSlot, setManaged, setRunner } from "./runner.ts";
export type { RunOptions, Runner } from "./runner.ts";
export type {
  AfterRequestHook,
  Awaitable,
  BeforeRequestHook,
  ErrorClass,
  ErrorHandler,
  Handler,
  HttpMethod,
  RouteOptions,
  TeardownHook,
} from "./scaffold.ts";
export { guessMimetype, safeJoin, sendFile, sendFromDirectory } from "./send-file.ts";
export type { SendFileOptions } from "./send-file.ts";
export { Rooms, Subscription } from "./rooms.ts";
export type {
  BroadcastEnvelope,
  BroadcastOptions,
  BroadcastRelay,
  SubscribeOptions,
} from "./rooms.ts";
export { Session } from "./sessions.ts";
export type { SocketDecision, SocketEvents, SocketHandler, WebSocketOptions } from "./sockets.ts";
export { sse } from "./sse.ts";
export type { EventSource, ServerSentEvent, SseOptions } from "./sse.ts";
export type { SessionData } from "./sessions.ts";
export { TestClient, TestResponse } from "./testing.ts";
export { WebSocket, WebSocketClosed } from "./websocket.ts";
export type { EncodedText, SocketTransport, WebSocketMessage } from "./websocket.ts";
export type { TestFile, TestRequestOptions } from "./testing.ts";
