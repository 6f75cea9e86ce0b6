// The framework's internal entry: the public names plus what the server layer needs to serve an
// app (the record boundary's helpers, the run slot, rooms, error pages). Not a package export;
// only src/server imports it.

export * from "./index.ts";
export {
  setManaged,
  setRunner,
  appsCreatedIn,
  appsRunIn,
  runnerSlot,
  registerCompiledRoot,
  type Runner,
} from "./app/runner.ts";
export { adoptServerLogger, consoleLogger, withConsoleFallback } from "./app/logging.ts";
export { requestLogFields } from "./context/context.ts";
export { onRequestException } from "./app/exception-reports.ts";
export type { AppCommands, Broadcasting, SocketGate } from "./boundary/servable-app.ts";
export type { CommandIO } from "./app/commands.ts";
export {
  BodyCollector,
  declaresMoreThan,
  readBoundedBody,
  type BoundedBody,
} from "./boundary/body-reader.ts";
export {
  recordFromRequest,
  recordFromResponse,
  requestFromRecord,
  responseFromRecord,
} from "./boundary/web-adapter.ts";
export { newRequestId, requestNote } from "./boundary/request-id.ts";
export { bodyTooLarge } from "./errors.ts";
export { exceptionResponse, prefersJson } from "./http/response.ts";
export {
  MetricStore,
  histogramSamples,
  metricStore,
  type FamilyDelta,
  type MetricFamilyJson,
  type MetricSample,
} from "./metrics/user-metrics.ts";
export { UrlMap } from "./routing/url-map.ts";
export { Rooms, type BroadcastEnvelope, type BroadcastRelay } from "./websocket/rooms.ts";
export type { SocketDecision } from "./websocket/socket-routes.ts";
export type { EncodedText, SocketTransport } from "./websocket/websocket.ts";
