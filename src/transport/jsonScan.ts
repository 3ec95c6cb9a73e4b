// A validating scan of one JSON-RPC line's bytes that reads its top-level `method` and `id` without building
// the message: the bridge needs only those of most lines, and JSON.parse of each line (decode, build every
// object, intern every key) was a tenth of its instructions per call. The scan answers only when it is sure
// to agree with JSON.parse of the line decoded as UTF-8; anything it does not know (an escaped key or method,
// an id that is neither a string nor a number, nesting past its stack) it leaves to JSON.parse.
// Quote, backslash and the structural bytes are ASCII, and no byte of a multi-byte UTF-8 character (nor of
// an invalid sequence, which decodes to U+FFFD) is ASCII, so scanning the raw bytes finds the same tokens.

/** What the scan read: the top-level `method` and `id` of a JSON object line (each absent if the object has none). */
export interface Scanned {
  method?: string;
  id?: string | number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Containers open inside one top-level value; deeper nesting is left to JSON.parse. */
const MAX_DEPTH = 256;
const stack = new Uint8Array(MAX_DEPTH);

/** Bytes that may follow a backslash in a JSON string, other than `u`. */
const SIMPLE_ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;
const HEX = new Uint8Array(256);
for (const c of "0123456789abcdefABCDEF") HEX[c.charCodeAt(0)] = 1;

/** Set by skipString: the string just skipped held an escape (its bytes are not its value). */
let escaped = false;

function skipWs(b: Buffer, i: number): number {
  for (;;) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** The index after the JSON string whose opening quote is at `i`, or -1 if it is not a valid one. */
function skipString(b: Buffer, i: number): number {
  escaped = false;
  const n = b.length;
  for (i++; i < n; ) {
    const c = b[i]!;
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c !== BACKSLASH) {
      i++;
      continue;
    }
    escaped = true;
    const e = b[i + 1]!;
    if (SIMPLE_ESCAPE[e]) i += 2;
    else if (e === 0x75 && HEX[b[i + 2]!] && HEX[b[i + 3]!] && HEX[b[i + 4]!] && HEX[b[i + 5]!]) i += 6;
    else return -1;
  }
  return -1;
}

const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;

/** The index after the JSON number at `i` (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`), or -1. */
function skipNumber(b: Buffer, i: number): number {
  if (b[i] === 0x2d) i++;
  if (b[i] === 0x30) i++;
  else if (isDigit(b[i])) while (isDigit(b[i])) i++;
  else return -1;
  if (b[i] === 0x2e) {
    if (!isDigit(b[++i])) return -1;
    while (isDigit(b[i])) i++;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  return i;
}

const TRUE = Buffer.from("true");
const FALSE = Buffer.from("false");
const NULL = Buffer.from("null");

function skipWord(b: Buffer, i: number, word: Buffer): number {
  return bytesAt(b, i, word) ? i + word.length : -1;
}

/**
 * The id at `at` (a JSON string or number token, as JSON.parse reads it) and the index after it; undefined if
 * the token there is neither or is invalid.
 */
export function idToken(b: Buffer, at: number): { id: string | number; end: number } | undefined {
  const c = b[at];
  if (c === QUOTE) {
    const end = skipString(b, at);
    if (end < 0) return undefined;
    return { id: escaped ? (JSON.parse(b.toString("utf8", at, end)) as string) : b.toString("utf8", at + 1, end - 1), end };
  }
  const end = skipNumber(b, at);
  return end < 0 ? undefined : { id: numberValue(b, at, end), end };
}

/** The value of the valid JSON number token `b[at, end)`. */
function numberValue(b: Buffer, at: number, end: number): number {
  // Up to 15 digits and no fraction or exponent: exact in a double, so summed here (the common integer id).
  const neg = b[at] === 0x2d;
  let i = neg ? at + 1 : at;
  if (end - i > 15) return Number(b.toString("latin1", at, end));
  let v = 0;
  for (; i < end; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 9) return Number(b.toString("latin1", at, end));
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

/** True when `b` holds the bytes of `word` at `at`. */
export function bytesAt(b: Buffer, at: number, word: Buffer): boolean {
  if (at + word.length > b.length) return false;
  for (let k = 0; k < word.length; k++) if (b[at + k] !== word[k]) return false;
  return true;
}

const METHOD_KEY = Buffer.from("method");

/** Where the scan is in the line: what it expects next. */
const FIRST_KEY = 0; // after `{`: a key or `}`
const KEY = 1; // after `,` in an object
const FIRST_VALUE = 2; // after `[`: a value or `]`
const VALUE = 3; // after `:` or `,` in an array
const AFTER_VALUE = 4; // `,` or the container's close

/** Which top-level member the value being read belongs to. */
const OTHER = 0;
const ID = 1;
const METHOD = 2;

/** The last method name decoded, and its bytes: most lines repeat the previous one's method. */
let lastMethod = "";
let lastMethodBytes = Buffer.alloc(0);

function methodAt(b: Buffer, start: number, end: number): string {
  const len = end - start;
  if (len === lastMethodBytes.length) {
    let k = 0;
    while (k < len && b[start + k] === lastMethodBytes[k]) k++;
    if (k === len) return lastMethod;
  }
  // A long name is not cached at all: the cached name and bytes must change together, else the next line
  // with the previous short method would be read as this one.
  if (len > 64) return b.toString("utf8", start, end);
  lastMethod = b.toString("utf8", start, end);
  // A copy: the line's own memory must not be kept alive by the cache.
  lastMethodBytes = Buffer.from(b.subarray(start, end));
  return lastMethod;
}

/**
 * The top-level `method` and `id` of a line holding exactly one JSON object, or undefined when the line is
 * not valid JSON, not an object, or of a shape this scan leaves to JSON.parse (see the file's head). When it
 * answers, JSON.parse of the line agrees with it (test/unit/jsonScan.test.ts checks this property). One loop
 * with its state in locals: this runs on every line a client sends.
 */
export function scanMembers(b: Buffer): Scanned | undefined {
  let i = skipWs(b, 0);
  if (b[i] !== OPEN_OBJECT) return undefined;
  stack[0] = OPEN_OBJECT;
  let depth = 1;
  let state = FIRST_KEY;
  let member = OTHER;
  let method: string | undefined;
  let id: string | number | undefined;
  i++;
  for (;;) {
    i = skipWs(b, i);
    const c = b[i];
    if (state === AFTER_VALUE) {
      const open = stack[depth - 1];
      if (c === COMMA) {
        i++;
        state = open === OPEN_OBJECT ? KEY : VALUE;
      } else if (c === (open === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) {
        i++;
        if (--depth === 0) return skipWs(b, i) === b.length ? { method, id } : undefined;
      } else return undefined;
    } else if (state === FIRST_KEY || state === KEY) {
      if (c !== QUOTE) {
        if (state === FIRST_KEY && c === CLOSE_OBJECT) {
          i++;
          state = AFTER_VALUE;
          if (--depth === 0) return skipWs(b, i) === b.length ? { method, id } : undefined;
          continue;
        }
        return undefined;
      }
      const keyAt = i + 1;
      i = skipString(b, i);
      if (i < 0) return undefined;
      if (depth === 1) {
        // An escaped key may spell "method" or "id" in escapes: JSON.parse decides.
        if (escaped) return undefined;
        const len = i - 1 - keyAt;
        member = len === 2 && b[keyAt] === 0x69 && b[keyAt + 1] === 0x64 ? ID : len === 6 && bytesAt(b, keyAt, METHOD_KEY) ? METHOD : OTHER;
      }
      i = skipWs(b, i);
      if (b[i] !== COLON) return undefined;
      i++;
      state = VALUE;
    } else {
      // FIRST_VALUE or VALUE
      if (state === FIRST_VALUE && c === CLOSE_ARRAY) {
        i++;
        depth--;
        state = AFTER_VALUE;
        continue;
      }
      // A repeated key: JSON.parse keeps the last, and so does this (each value read overwrites).
      const ours = depth === 1 ? member : OTHER;
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        // An id or method that is an object or array: nothing the bridge acts on, but JSON.parse's to compare.
        if (ours !== OTHER || depth === MAX_DEPTH) return undefined;
        stack[depth++] = c;
        i++;
        state = c === OPEN_OBJECT ? FIRST_KEY : FIRST_VALUE;
        continue;
      }
      const at = i;
      if (c === QUOTE) {
        i = skipString(b, i);
        if (i < 0) return undefined;
        if (ours === METHOD) {
          if (escaped) return undefined;
          method = methodAt(b, at + 1, i - 1);
        } else if (ours === ID) id = escaped ? (JSON.parse(b.toString("utf8", at, i)) as string) : b.toString("utf8", at + 1, i - 1);
      } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
        if (ours !== OTHER) return undefined;
        i = skipWord(b, i, c === 0x74 ? TRUE : c === 0x66 ? FALSE : NULL);
        if (i < 0) return undefined;
      } else {
        i = skipNumber(b, i);
        if (i < 0 || ours === METHOD) return undefined;
        if (ours === ID) id = numberValue(b, at, i);
      }
      state = AFTER_VALUE;
    }
  }
}
