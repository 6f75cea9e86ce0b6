// The framework layer's public names: what users of `carafe` call. What the server needs
// beyond them is in internal.ts.

export { Carafe } from "./app/app.ts";
export {
  broadcast,
  currentApp,
  json,
  makeResponse,
  subscribe,
  urlFor,
} from "./context/current-app.ts";
export { JsonProvider } from "./http/json-provider.ts";
export { metrics } from "./metrics/user-metrics.ts";
export type {
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  HistogramOptions,
  MetricLabels,
  MetricOptions,
  Metrics,
} from "./metrics/user-metrics.ts";
export type { CarafeOptions, RegisterBlueprintOptions, RoutePayload } from "./app/app.ts";
export type { UrlForOptions } from "./app/url-for.ts";
export { Blueprint } from "./app/blueprint.ts";
export type { BlueprintOptions } from "./app/blueprint.ts";
export { wraps } from "./app/wraps.ts";
export { MethodView, View } from "./app/class-views.ts";
export type { ClassView, ViewClass, ViewDecorator } from "./app/class-views.ts";
export type {
  AppConfig,
  CarafeConfig,
  ConfigFileLoader,
  ConfigLoaders,
  ConfigMapping,
  ConfigValues,
  FromFileOptions,
} from "./app/config.ts";
export { Resource } from "./app/resources.ts";
export type { ResourceMode } from "./app/resources.ts";
export { DEFAULT_MAX_CONTENT_LENGTH } from "./app/config.ts";
export {
  AppContext,
  RequestContext,
  findAppContext,
  findContext,
  g,
  request,
  session,
} from "./context/context.ts";
export { flash, getFlashedMessages } from "./context/flash.ts";
export type { FlashedMessage, FlashedMessagesOptions } from "./context/flash.ts";
export type { AnyAppContext, AppGlobals, ContextApp } from "./context/context.ts";
export type { CookieOptions } from "./http/cookies.ts";
export { HeaderMap, MultiDict, RequestHeaders } from "./http/datastructures.ts";
export type { GetOptions, HeadersInit } from "./http/datastructures.ts";
export {
  BadGateway,
  BadRequest,
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
export { FileStorage } from "./http/forms.ts";
export type { Logger } from "./app/logging.ts";
export type {
  BodyChunk,
  BodyPlan,
  BodyStream,
  ClientConnection,
  Placement,
  RecordHandler,
  RoutePlan,
  RequestRecord,
  ResponseRecord,
} from "./boundary/records.ts";
export type { AppCommands, RouteListing, ServableApp } from "./boundary/servable-app.ts";
export { Request } from "./http/request.ts";
export type { GetJsonOptions } from "./http/request.ts";
export { Response, abort, redirect } from "./http/response.ts";
export type {
  JsonObject,
  JsonValue,
  ResponseBody,
  ResponseInit,
  ResponseValue,
  StreamValue,
} from "./http/response.ts";
export { ValidationError } from "./routing/converters.ts";
export type { Converter, ConverterArg, ConverterFactory } from "./routing/converters.ts";
export type { ConverterTypes, RouteParams } from "./routing/params.ts";
export type { RunOptions } from "./app/runner.ts";
export type {
  AfterRequestHook,
  Awaitable,
  BeforeRequestHook,
  ContextProcessor,
  ErrorClass,
  ErrorHandler,
  ErrorHandlerMap,
  Handler,
  HttpMethod,
  RouteOptions,
  Scaffold,
  TeardownHook,
  TemplateFunction,
} from "./app/scaffold.ts";
export { guessMimetype, safeJoin, sendFile, sendFromDirectory } from "./http/send-file.ts";
export type { SendFileOptions } from "./http/send-file.ts";
export { Subscription } from "./websocket/rooms.ts";
export type { BroadcastOptions, SubscribeOptions } from "./websocket/rooms.ts";
export { Session } from "./context/sessions.ts";
export type { SocketEvents, SocketHandler, WebSocketOptions } from "./websocket/socket-routes.ts";
export { sse } from "./http/sse.ts";
export type { EventSource, ServerSentEvent, SseOptions } from "./http/sse.ts";
export type { SessionData } from "./context/sessions.ts";
export { TestClient, TestResponse } from "./boundary/test-client.ts";
export { CliRunner } from "./boundary/cli-runner.ts";
export type { CliResult } from "./boundary/cli-runner.ts";
export { CommandGroup } from "./app/commands.ts";
export type {
  Command,
  CommandArgument,
  CommandArgumentValue,
  CommandHandler,
  CommandOption,
  CommandOptionValue,
  CommandOptions,
  CommandScalar,
  CommandValueType,
  CommandValues,
  Echo,
} from "./app/commands.ts";
export { WebSocket, WebSocketClosed } from "./websocket/websocket.ts";
export type { WebSocketMessage } from "./websocket/websocket.ts";
export type {
  TestFile,
  TestRequestContextOptions,
  TestRequestInfo,
  TestRequestOptions,
  TestableApp,
} from "./boundary/test-client.ts";
