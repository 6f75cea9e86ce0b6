// Form bodies: urlencoded (parsed synchronously on first use) and multipart (parsed with busboy
// before the handler runs, so `request.form` and `request.files` stay plain properties that a
// synchronous handler can read).

import { Buffer } from "node:buffer";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Readable } from "node:stream";
import type busboy from "busboy";
import { MultiDict } from "./datastructures.ts";
import { BadRequest, RequestEntityTooLarge } from "../errors.ts";

/** An uploaded file from a multipart form. */
export class FileStorage {
  constructor(
    /** The form field's name. */
    readonly name: string,
    /**
     * The file name the client sent, `filename*` (RFC 5987) decoded, with control characters
     * (NUL, CR, LF, tab, DEL, U+0080–U+009F) removed: no valid name holds one, and a NUL or a
     * line break would cut or split the name in a path or a log. Never trust it as a path.
     */
    readonly filename: string,
    /**
     * The part's `Content-Type` as the client sent it, parameters included
     * (`text/plain; charset=utf-8`); `application/octet-stream` when it sent none.
     */
    readonly contentType: string,
    /** The file's content. */
    readonly bytes: Uint8Array,
  ) {}

  /** Size in bytes. */
  get size(): number {
    return this.bytes.byteLength;
  }

  /** The media type without its parameters, in lower case (`text/plain`). */
  get mimetype(): string {
    const semi = this.contentType.indexOf(";");
    return (semi < 0 ? this.contentType : this.contentType.slice(0, semi)).trim().toLowerCase();
  }

  /**
   * The parameters of `contentType`, names in lower case: `{ charset: "utf-8" }` for
   * `text/plain; charset=utf-8`.
   */
  get mimetypeParams(): Record<string, string> {
    return parseParameters(this.contentType);
  }

  /**
   * The content (Werkzeug's `file.read()`); the whole of it at every call, as the file is held
   * in memory.
   *
   * @example
   * const rows = parseCsv(Buffer.from(req.files.require("sheet").read()).toString("utf8"));
   */
  read(): Uint8Array {
    return this.bytes;
  }

  /**
   * The content as a readable byte stream, for APIs that take one (`pipeline(file.stream, out)`);
   * each access gives a new stream from the start.
   */
  get stream(): Readable {
    return Readable.from(
      [Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength)],
      {
        objectMode: false,
      },
    );
  }

  /** The content decoded as UTF-8. */
  text(): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString(
      "utf8",
    );
  }

  /** Writes the content to `path` (choose the path yourself; do not use `filename` unchecked). */
  save(path: string): void {
    writeFileSync(path, this.bytes);
  }
}

/** A quoted parameter value's escapes (`\"`), undone. */
function unquote(text: string): string {
  return text.replace(/\\(.)/g, "$1");
}

/** RFC 2231's `charset'language'percent-encoded` value, decoded; `undefined` when it is not one. */
function decodeExtended(value: string): string | undefined {
  const match = /^([^']*)'[^']*'(.*)$/.exec(value);
  if (match === null) return undefined;
  const charset = (match[1] ?? "").toLowerCase();
  const bytes = Buffer.from(
    (match[2] ?? "").replace(/%([0-9a-f]{2})/gi, (_, hex: string) =>
      String.fromCharCode(parseInt(hex, 16)),
    ),
    "latin1",
  );
  return bytes.toString(charset === "iso-8859-1" || charset === "latin1" ? "latin1" : "utf8");
}

/**
 * The `; name=value` parameters of a header value such as a Content-Type, names in lower case,
 * quoted values unquoted and RFC 2231 `name*=utf-8''…` values decoded (they win over the plain
 * form of the same name).
 */
export function parseParameters(header: string): Record<string, string> {
  const params: Record<string, string> = {};
  const extended = new Set<string>();
  const pattern = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const match of header.matchAll(pattern)) {
    const name = (match[1] ?? "").toLowerCase();
    const value = match[2] === undefined ? (match[3] ?? "").trim() : unquote(match[2]);
    if (name.endsWith("*")) {
      const decoded = decodeExtended(value);
      if (decoded === undefined) continue;
      params[name.slice(0, -1)] = decoded;
      extended.add(name.slice(0, -1));
    } else if (!extended.has(name)) {
      params[name] = value;
    }
  }
  return params;
}

/** The `boundary` parameter of a multipart Content-Type, or `undefined`. */
function boundaryOf(contentType: string): string | undefined {
  return parseParameters(contentType)["boundary"] || undefined;
}

/**
 * The `Content-Type` header of each file part of a multipart body, in order (`undefined` for a
 * part without one). busboy reports a part's media type without its parameters; this light scan
 * of the part headers finds them. A part is a file as busboy counts one: a `form-data` part with
 * a filename, or of type `application/octet-stream`.
 */
function fileContentTypes(body: Uint8Array, boundary: string): (string | undefined)[] {
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = `--${boundary}`;
  const types: (string | undefined)[] = [];
  let at = buffer.indexOf(delimiter, 0, "latin1");
  while (at >= 0) {
    const after = at + delimiter.length;
    if (buffer[after] === 0x2d && buffer[after + 1] === 0x2d) break; // the closing delimiter
    const lineEnd = buffer.indexOf("\r\n", after, "latin1");
    const headersEnd = lineEnd < 0 ? -1 : buffer.indexOf("\r\n\r\n", lineEnd, "latin1");
    if (headersEnd < 0) break;
    let disposition: string | undefined;
    let type: string | undefined;
    for (const line of buffer.toString("latin1", lineEnd + 2, headersEnd).split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      if (name === "content-disposition") disposition ??= line.slice(colon + 1).trim();
      else if (name === "content-type") type ??= line.slice(colon + 1).trim();
    }
    if (
      disposition !== undefined &&
      /^form-data\s*(;|$)/i.test(disposition) &&
      (/;\s*filename\*?\s*=/i.test(disposition) || mediaTypeOf(type) === "application/octet-stream")
    ) {
      types.push(type);
    }
    at = buffer.indexOf(`\r\n${delimiter}`, headersEnd + 4, "latin1");
    if (at >= 0) at += 2;
  }
  return types;
}

function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/** What a parsed form body holds. */
export interface ParsedForm {
  form: MultiDict<string>;
  files: MultiDict<FileStorage>;
}

/** Limits on form bodies, from the app's config. */
export interface FormLimits {
  /** Most parts (fields + files) or urlencoded fields accepted; more → 413. */
  maxFormParts: number;
}

const CONTROL_CHARACTERS = /\p{Cc}/gu;

function decodeComponent(text: string): string {
  const spaced = text.includes("+") ? text.replaceAll("+", " ") : text;
  return spaced.includes("%") ? decodeURIComponent(spaced) : spaced;
}

/**
 * Parses `a=1&b=2&a=3` (a query string or an urlencoded form) as URLSearchParams does, `+` as a
 * space included, without building one: the common, well-formed case is a few string splits.
 * More than `maxFields` fields (empty `&&` segments not counted) raise 413 as soon as the first
 * field too many is reached, before any of it is decoded.
 */
export function parseQueryString(text: string, maxFields = Infinity): MultiDict<string> {
  const dict = new MultiDict<string>();
  let fields = 0;
  let malformed = false;
  // indexOf rather than String#split, which is several times slower on a request's fresh string.
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("&", start);
    if (end < 0) end = text.length;
    if (end > start) {
      if (++fields > maxFields) {
        throw new RequestEntityTooLarge(
          `The form has more than ${maxFields} fields (config maxFormParts).`,
        );
      }
      if (!malformed) {
        const equals = text.indexOf("=", start);
        const named = equals >= 0 && equals < end;
        try {
          dict.append(
            decodeComponent(text.slice(start, named ? equals : end)),
            named ? decodeComponent(text.slice(equals + 1, end)) : "",
          );
        } catch {
          // Only counting goes on, so that the whole text is known to be within the bound
          // before URLSearchParams parses it below.
          malformed = true;
        }
      }
    }
    start = end + 1;
  }
  // A malformed escape (`%zz`, `%ff`): URLSearchParams keeps or replaces it, as browsers do.
  return malformed ? new MultiDict(new URLSearchParams(text)) : dict;
}

/**
 * Parses an `application/x-www-form-urlencoded` body; more than `limits.maxFormParts` fields
 * raise 413, as a multipart body's parts do.
 */
export function parseUrlencoded(body: Uint8Array | null, limits: FormLimits): MultiDict<string> {
  if (body === null || body.byteLength === 0) return new MultiDict();
  return parseQueryString(
    Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"),
    limits.maxFormParts,
  );
}

let loadedBusboy: typeof busboy | undefined;

/** busboy, loaded by the first multipart body: a pool thread that never reads one never loads it. */
function multipartParser(): typeof busboy {
  return (loadedBusboy ??= createRequire(import.meta.url)("busboy") as typeof busboy);
}

/** Parses a `multipart/form-data` body held in memory. */
export function parseMultipart(
  body: Uint8Array | null,
  contentType: string,
  limits: FormLimits,
): Promise<ParsedForm> {
  const form = new MultiDict<string>();
  const files = new MultiDict<FileStorage>();
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = multipartParser()({
        headers: { "content-type": contentType },
        // busboy signals when the count reaches its limit; one more lets exactly maxFormParts pass.
        limits: { parts: limits.maxFormParts + 1 },
        defParamCharset: "utf8",
      });
    } catch (error) {
      reject(new BadRequest(`The multipart body cannot be read: ${(error as Error).message}.`));
      return;
    }
    let failed = false;
    const fail = (error: Error): void => {
      if (failed) return;
      failed = true;
      reject(error);
    };
    parser.on("field", (name, value) => form.append(name, value));
    let partTypes: (string | undefined)[] | undefined;
    let fileIndex = 0;
    parser.on("file", (name, stream, info) => {
      // Scanned at the first file only: a form without files never pays for it.
      const boundary = boundaryOf(contentType);
      partTypes ??= body === null || boundary === undefined ? [] : fileContentTypes(body, boundary);
      const declared = partTypes[fileIndex];
      fileIndex += 1;
      // The scan's header is taken when it agrees with busboy's reading of the same part.
      const type =
        declared !== undefined && mediaTypeOf(declared) === info.mimeType
          ? declared
          : info.mimeType || "application/octet-stream";
      const chunks: Buffer[] = [];
      // busboy destroys an unfinished file's stream with the parse error; unhandled, that
      // error would crash the process.
      stream.on("error", (error: Error) =>
        fail(new BadRequest(`The multipart body is malformed: ${error.message}.`)),
      );
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        files.append(
          name,
          new FileStorage(
            name,
            // Removed rather than refused with 400: the upload itself is fine, and browsers
            // never send such a name, so only a hostile or broken client loses anything.
            (info.filename ?? "").replace(CONTROL_CHARACTERS, ""),
            type,
            Buffer.concat(chunks),
          ),
        );
      });
    });
    parser.on("partsLimit", () =>
      fail(
        new RequestEntityTooLarge(
          `The form has more than ${limits.maxFormParts} parts (config maxFormParts).`,
        ),
      ),
    );
    parser.on("error", (error: Error) =>
      fail(new BadRequest(`The multipart body is malformed: ${error.message}.`)),
    );
    parser.on("close", () => {
      if (!failed) resolve({ form, files });
    });
    parser.end(body ?? new Uint8Array(0));
  });
}
