// Sending files: `sendFile` (one file, with ETag, Last-Modified, conditional 304 and byte
// ranges) and `sendFromDirectory` (a user-supplied path resolved safely inside one folder).

import { createReadStream, realpathSync, statSync, type Stats } from "node:fs";
import { basename, extname, isAbsolute, join, resolve, sep } from "node:path";
import { findContext } from "../context/context.ts";
import { NotFound } from "../errors.ts";
import type { BodyStream } from "../boundary/records.ts";
import { Response } from "./response.ts";

/** Options of `sendFile`. */
export interface SendFileOptions {
  /** Media type; guessed from the file name when omitted. */
  mimetype?: string;
  /** Send `Content-Disposition: attachment` so browsers download it. */
  asAttachment?: boolean;
  /** The file name the client should save (default: the file's own name). */
  downloadName?: string;
  /** Answer conditional and range requests (default `true`). */
  conditional?: boolean;
  /** Send an ETag (default `true`). */
  etag?: boolean;
  /** `Cache-Control: public, max-age=N`; default `null`: `no-cache` (revalidate each time). */
  maxAge?: number | null;
}

const MIME_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html",
  ".htm": "text/html",
  ".css": "text/css",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain",
  ".csv": "text/csv",
  ".md": "text/markdown",
  ".xml": "application/xml",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".ico": "image/vnd.microsoft.icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".otf": "font/otf",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".wasm": "application/wasm",
  ".mp3": "audio/mpeg",
  ".ogg": "audio/ogg",
  ".wav": "audio/wav",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
};

/** The media type for a file name, `application/octet-stream` when unknown. */
export function guessMimetype(filename: string): string {
  return MIME_TYPES[extname(filename).toLowerCase()] ?? "application/octet-stream";
}

function etagOf(stats: Stats): string {
  return `"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
}

function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  return header.split(",").some((each) => each.trim().replace(/^W\//, "") === etag);
}

/** Parses a single `bytes=` range; `null` to ignore the header, `"unsatisfiable"` for 416. */
function parseRange(
  header: string,
  size: number,
): { start: number; end: number } | "unsatisfiable" | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return null;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return null;
  let start: number;
  let end: number;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
    if (last !== "" && Number(last) < start) return null;
  }
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

function fileStream(path: string, start: number, end: number): BodyStream {
  // Opened on first read, so a response that is never sent (HEAD, a replaced response) holds no
  // file descriptor.
  let stream: ReturnType<typeof createReadStream> | undefined;
  return {
    [Symbol.asyncIterator]() {
      stream = createReadStream(path, { start, end });
      return stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    },
    cancel() {
      stream?.destroy();
    },
  };
}

/**
 * Sends a file, answering conditional (`If-None-Match`, `If-Modified-Since` → 304) and range
 * (`Range` → 206) requests. A missing file raises 404.
 *
 * @example
 * app.get("/report", () => sendFile("reports/latest.pdf", { asAttachment: true }));
 */
export function sendFile(path: string, options: SendFileOptions = {}): Response {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch {
    throw new NotFound();
  }
  if (!stats.isFile()) throw new NotFound();
  const name = options.downloadName ?? basename(path);
  const response = new Response(null, { mimetype: options.mimetype ?? guessMimetype(name) });
  const headers = response.headers;
  if (options.asAttachment || options.downloadName !== undefined) {
    const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
    headers.set(
      "Content-Disposition",
      `${options.asAttachment ? "attachment" : "inline"}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    );
  }
  const lastModified = new Date(Math.floor(stats.mtimeMs / 1000) * 1000);
  headers.set("Last-Modified", lastModified.toUTCString());
  const etag = options.etag === false ? undefined : etagOf(stats);
  if (etag) headers.set("ETag", etag);
  headers.set(
    "Cache-Control",
    options.maxAge == null ? "no-cache" : `public, max-age=${options.maxAge}`,
  );
  headers.set("Accept-Ranges", "bytes");

  const requestHeaders =
    options.conditional === false ? undefined : findContext()?.request.record.headers;
  if (requestHeaders !== undefined) {
    const ifNoneMatch = requestHeaders["if-none-match"];
    const ifModifiedSince = requestHeaders["if-modified-since"];
    const notModified =
      ifNoneMatch !== undefined
        ? etag !== undefined && matchesEtag(ifNoneMatch, etag)
        : ifModifiedSince !== undefined && Date.parse(ifModifiedSince) >= lastModified.getTime();
    if (notModified) {
      response.status = 304;
      return response;
    }
    const range = requestHeaders["range"];
    const ifRange = requestHeaders["if-range"];
    const rangeApplies =
      range !== undefined &&
      (ifRange === undefined ||
        (ifRange.startsWith('"') || ifRange.startsWith("W/")
          ? ifRange === etag
          : Date.parse(ifRange) >= lastModified.getTime()));
    if (rangeApplies) {
      const parsed = parseRange(range, stats.size);
      if (parsed === "unsatisfiable") {
        response.status = 416;
        headers.set("Content-Range", `bytes */${stats.size}`);
        return response;
      }
      if (parsed !== null) {
        response.status = 206;
        headers.set("Content-Range", `bytes ${parsed.start}-${parsed.end}/${stats.size}`);
        headers.set("Content-Length", parsed.end - parsed.start + 1);
        response.body = fileStream(path, parsed.start, parsed.end);
        return response;
      }
    }
  }
  headers.set("Content-Length", stats.size);
  response.body = stats.size === 0 ? "" : fileStream(path, 0, stats.size - 1);
  return response;
}

/**
 * Sends `path` from inside `directory`; any way out of it (`..`, absolute paths, encoded
 * separators, symlinks pointing outside) is a 404, never a file, and so is a name ending in `/`.
 *
 * @example
 * app.get("/uploads/<path:name>", (req) => sendFromDirectory("uploads", req.params.name));
 */
export function sendFromDirectory(
  directory: string,
  path: string,
  options: SendFileOptions = {},
): Response {
  // `hello.txt/` names no file (the OS answers ENOTDIR, Flask a 404), but safeJoin's
  // realpathSync drops the slash and would find `hello.txt`.
  if (path.endsWith("/")) throw new NotFound();
  return sendFile(safeJoin(directory, path), options);
}

/** Resolves `path` inside `directory`, or throws 404 when it would leave it. */
export function safeJoin(directory: string, path: string): string {
  if (path === "" || isAbsolute(path) || path.includes("\\") || path.includes("\0"))
    throw new NotFound();
  if (path.split("/").some((part) => part === ".." || part === ".")) throw new NotFound();
  const root = resolve(directory);
  const target = join(root, path);
  let realRoot: string;
  let realTarget: string;
  try {
    realRoot = realpathSync(root);
    realTarget = realpathSync(target);
  } catch {
    throw new NotFound();
  }
  if (!realTarget.startsWith(realRoot + sep)) throw new NotFound();
  return realTarget;
}
