// The framework layer's public names.

export { Carafe } from "./app/app.ts";
export { broadcast, currentApp, subscribe, urlFor } from "./context/current-app.ts";
export type {
  CarafeOptions,
  RegisterBlueprintOptions,
  RoutePayload,
  UrlForOptions,
} from "./app/app.ts";
export { Blueprint } from "./app/blueprint.ts";
export type { BlueprintOptions } from "./app/blueprint.ts";
export type { AppConfig } from "./app/config.ts";
export { DEFAULT_MAX_CONTENT_LENGTH } from "./app/config.ts";
export { findContext, g, request, session } from "./context/context.ts";
export type { AppGlobals, RequestContext } from "./context/context.ts";
export type { CookieOptions } from "./http/cookies.ts";
export { HeaderMap, MultiDict, RequestHeaders } from "./http/datastructures.ts";
export type { HeadersInit } from "./http/datastructures.ts";
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
export { recordFromRequest, responseFromRecord } from "./boundary/web-adapter.ts";
export { FileStorage } from "./http/forms.ts";
export type { Logger } from "./app/logging.ts";
export { bodyPlanOf } from "./boundary/records.ts";
export type {
  BodyChunk,
  BodyPlan,
  BodyStream,
  ClientConnection,
  RecordHandler,
  RequestRecord,
  ResponseRecord,
} from "./boundary/records.ts";
export { Request } from "./http/request.ts";
export type { GetJsonOptions } from "./http/request.ts";
export {
  Response,
  abort,
  exceptionResponse,
  json,
  makeResponse,
  prefersJson,
  redirect,
} from "./http/response.ts";
export type { ResponseBody, ResponseInit, ResponseValue } from "./http/response.ts";
export { ValidationError } from "./routing/converters.ts";
export type { Converter, ConverterArg, ConverterFactory } from "./routing/converters.ts";
export type { ConverterTypes, RouteParams } from "./routing/params.ts";
export { UrlMap } from "./routing/url-map.ts";
export type { MatchResult } from "./routing/url-map.ts";
export { appsCreatedIn, runnerSlot, setManaged, setRunner } from "./app/runner.ts";
export type { RunOptions, Runner } from "./app/runner.ts";
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
} from "./app/scaffold.ts";
export { guessMimetype, safeJoin, sendFile, sendFromDirectory } from "./http/send-file.ts";
export type { SendFileOptions } from "./http/send-file.ts";
export { Rooms, Subscription } from "./websocket/rooms.ts";
export type {
  BroadcastEnvelope,
  BroadcastOptions,
  BroadcastRelay,
  SubscribeOptions,
} from "./websocket/rooms.ts";
export { Session } from "./context/sessions.ts";
export type {
  SocketDecision,
  SocketEvents,
  SocketHandler,
  WebSocketOptions,
} from "./websocket/socket-routes.ts";
export { sse } from "./http/sse.ts";
export type { EventSource, ServerSentEvent, SseOptions } from "./http/sse.ts";
export type { SessionData } from "./context/sessions.ts";
export { TestClient, TestResponse } from "./boundary/test-client.ts";
export { WebSocket, WebSocketClosed } from "./websocket/websocket.ts";
export type { EncodedText, SocketTransport, WebSocketMessage } from "./websocket/websocket.ts";
export type { TestFile, TestRequestOptions } from "./boundary/test-client.ts";
