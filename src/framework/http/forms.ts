// Form bodies: urlencoded (parsed synchronously on first use) and multipart (parsed with busboy
// before the handler runs, so `request.form` and `request.files` stay plain properties that a
// synchronous handler can read).

import { Buffer } from "node:buffer";
import { writeFileSync } from "node:fs";
import busboy from "busboy";
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
    /** The media type the client declared. */
    readonly contentType: string,
    /** The file's content. */
    readonly bytes: Uint8Array,
  ) {}

  /** Size in bytes. */
  get size(): number {
    return this.bytes.byteLength;
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
      parser = busboy({
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
    parser.on("file", (name, stream, info) => {
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
            info.mimeType || "application/octet-stream",
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
