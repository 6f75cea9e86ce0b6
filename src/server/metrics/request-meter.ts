// Design: the HTTP metrics of one worker process, named as OpenTelemetry's HTTP semantic
// conventions are spelt in Prometheus. The http loop calls `begin` as a request arrives and
// `end` once its response is handed to the socket (a streamed one once its last chunk is, or its
// client left), for routes on the loop and on the pool alike; each call is a few integer
// increments in a series found by one map lookup. Nothing here builds a prom-client object: the
// samples are made when the supervisor collects them.

import { histogramSamples, type MetricFamilyJson } from "../../framework/internal.ts";
import { semconvMethod } from "../http/semconv.ts";

/** Request durations (s): the bucket bounds OpenTelemetry's HTTP conventions advise. */
export const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
] as const;

/** Body sizes (bytes): powers of ten from none to 100 MB. */
export const SIZE_BUCKETS = [0, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/** The numbers of one combination of method, route, status and scheme. */
interface Series {
  readonly method: string;
  readonly scheme: string;
  readonly labels: Record<string, string>;
  readonly duration: Float64Array;
  durationSum: number;
  readonly requestSize: Float64Array;
  requestSizeSum: number;
  readonly responseSize: Float64Array;
  responseSizeSum: number;
  /** Responses whose size was known (one the app failed to make is not). */
  sizedResponses: number;
}

function bucketOf(bounds: readonly number[], value: number): number {
  let at = 0;
  while (at < bounds.length && value > (bounds[at] as number)) at += 1;
  return at;
}

/** One more observation in bucket `at`. */
function count(buckets: Float64Array, at: number): void {
  buckets[at] = (buckets[at] as number) + 1;
}

/** Counts the requests of one worker process; see the Design note. */
export class RequestMeter {
  #begun = 0;
  #ended = 0;
  /**
   * Series by route rule, then status; then the few methods and schemes met. No key is built
   * per request: the rule is the app's own string, the status a number.
   */
  readonly #byRule = new Map<string | null, Map<number, Series[]>>();
  readonly #series: Series[] = [];

  /** A request arrived. */
  begin(): void {
    this.#begun += 1;
  }

  /**
   * Its response was handed to the socket (a streamed body: its last chunk, or as much of it as
   * was written before the client left): `rule` is the route's rule (`/user/<int:id>`), `null`
   * when none matched; `responseBytes` is `null` when not known.
   */
  end(
    method: string,
    rule: string | null,
    status: number,
    scheme: string,
    seconds: number,
    requestBytes: number,
    responseBytes: number | null,
  ): void {
    this.#ended += 1;
    const known = semconvMethod(method);
    let byStatus = this.#byRule.get(rule);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.#byRule.set(rule, byStatus);
    }
    let list = byStatus.get(status);
    if (list === undefined) {
      list = [];
      byStatus.set(status, list);
    }
    let series: Series | undefined;
    for (const each of list) {
      if (each.method === known && each.scheme === scheme) {
        series = each;
        break;
      }
    }
    if (series === undefined) {
      series = this.#add(known, rule, status, scheme);
      list.push(series);
    }
    count(series.duration, bucketOf(DURATION_BUCKETS, seconds));
    series.durationSum += seconds;
    count(series.requestSize, bucketOf(SIZE_BUCKETS, requestBytes));
    series.requestSizeSum += requestBytes;
    if (responseBytes !== null) {
      count(series.responseSize, bucketOf(SIZE_BUCKETS, responseBytes));
      series.responseSizeSum += responseBytes;
      series.sizedResponses += 1;
    }
  }

  #add(method: string, rule: string | null, status: number, scheme: string): Series {
    // An unmatched request has no route (the conventions leave the attribute out): a 404 per
    // scanned path would otherwise be a series of its own.
    const labels: Record<string, string> = { http_request_method: method };
    if (rule !== null) labels.http_route = rule;
    labels.http_response_status_code = String(status);
    labels.url_scheme = scheme;
    const series: Series = {
      method,
      scheme,
      labels,
      duration: new Float64Array(DURATION_BUCKETS.length + 1),
      durationSum: 0,
      requestSize: new Float64Array(SIZE_BUCKETS.length + 1),
      requestSizeSum: 0,
      responseSize: new Float64Array(SIZE_BUCKETS.length + 1),
      responseSizeSum: 0,
      sizedResponses: 0,
    };
    this.#series.push(series);
    return series;
  }

  /** The samples, prom-client's way. */
  collect(): MetricFamilyJson[] {
    const duration: MetricFamilyJson = {
      name: "http_server_request_duration_seconds",
      help: "Duration of HTTP server requests",
      type: "histogram",
      aggregator: "sum",
      values: [],
    };
    const requestSize: MetricFamilyJson = {
      name: "http_server_request_body_size_bytes",
      help: "Size of HTTP server request bodies",
      type: "histogram",
      aggregator: "sum",
      values: [],
    };
    const responseSize: MetricFamilyJson = {
      name: "http_server_response_body_size_bytes",
      help: "Size of HTTP server response bodies",
      type: "histogram",
      aggregator: "sum",
      values: [],
    };
    for (const series of this.#series) {
      const { labels } = series;
      duration.values.push(
        ...histogramSamples(
          duration.name,
          labels,
          DURATION_BUCKETS,
          series.duration,
          series.durationSum,
        ),
      );
      requestSize.values.push(
        ...histogramSamples(
          requestSize.name,
          labels,
          SIZE_BUCKETS,
          series.requestSize,
          series.requestSizeSum,
        ),
      );
      if (series.sizedResponses > 0) {
        responseSize.values.push(
          ...histogramSamples(
            responseSize.name,
            labels,
            SIZE_BUCKETS,
            series.responseSize,
            series.responseSizeSum,
          ),
        );
      }
    }
    const active: MetricFamilyJson = {
      name: "http_server_active_requests",
      help: "HTTP server requests being handled",
      type: "gauge",
      aggregator: "sum",
      values: [{ value: this.#begun - this.#ended, labels: {} }],
    };
    return [duration, active, requestSize, responseSize];
  }
}
