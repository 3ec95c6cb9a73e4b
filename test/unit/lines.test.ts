// LineSplitter: the framing every channel shares (bridge both ways, primary sessions, --standalone stdio).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { LineSplitter } from "../../src/transport/lines.js";

/** A splitter that records what it emits: lines as strings, and each oversize event as "<oversize>". */
function recorder(maxBytes?: number) {
  const seen: string[] = [];
  const splitter = new LineSplitter(
    (line) => seen.push(line.toString("utf8")),
    () => seen.push("<oversize>"),
    maxBytes,
  );
  const push = (...chunks: Array<string | Buffer>) => {
    for (const c of chunks) splitter.push(typeof c === "string" ? Buffer.from(c) : c);
  };
  return { seen, splitter, push };
}

describe("LineSplitter", () => {
  test("emits each complete line of a chunk, holding back the unterminated tail", () => {
    const r = recorder();
    r.push('{"a":1}\n{"b":2}\n{"c"');
    assert.deepEqual(r.seen, ['{"a":1}', '{"b":2}']);
    assert.equal(r.splitter.pending, 4);
    r.push(":3}\n");
    assert.deepEqual(r.seen, ['{"a":1}', '{"b":2}', '{"c":3}']);
    assert.equal(r.splitter.pending, 0);
  });

  test("reassembles a line split at every possible byte boundary, including inside a UTF-8 sequence", () => {
    const text = '{"msg":"héllo ☃ 𝄞"}\n{"n":2}\n';
    const bytes = Buffer.from(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = recorder();
      r.push(bytes.subarray(0, cut), bytes.subarray(cut));
      assert.deepEqual(r.seen, ['{"msg":"héllo ☃ 𝄞"}', '{"n":2}'], `cut at ${cut}`);
    }
  });

  test("one byte at a time gives the same lines", () => {
    const bytes = Buffer.from('{"x":"abc"}\r\n\n{"y":1}\n');
    const r = recorder();
    for (const b of bytes) r.push(Buffer.from([b]));
    assert.deepEqual(r.seen, ['{"x":"abc"}', '{"y":1}']);
  });

  test("strips one CR before LF (Windows clients), keeps a CR elsewhere", () => {
    const r = recorder();
    r.push('{"a":1}\r\n', '{"b":"x\ry"}\n', "\r\n");
    assert.deepEqual(r.seen, ['{"a":1}', '{"b":"x\ry"}']);
  });

  test("CRLF split between chunks is still one CRLF", () => {
    const r = recorder();
    r.push('{"a":1}\r', '\n{"b":2}\r', "\n");
    assert.deepEqual(r.seen, ['{"a":1}', '{"b":2}']);
  });

  test("empty lines are skipped, not emitted as empty frames", () => {
    const r = recorder();
    r.push("\n\n\n", '{"a":1}\n', "\n");
    assert.deepEqual(r.seen, ['{"a":1}']);
  });

  test("a line of exactly maxBytes passes; one byte more is refused once and the next line still comes", () => {
    const r = recorder(8);
    r.push("12345678\n");
    assert.deepEqual(r.seen, ["12345678"]);
    r.push("123456789\n", "ok\n");
    assert.deepEqual(r.seen, ["12345678", "<oversize>", "ok"]);
  });

  test("an oversize line arriving in many chunks is reported once and not buffered", () => {
    const r = recorder(10);
    r.push("aaaaaa", "bbbbbb");
    assert.deepEqual(r.seen, ["<oversize>"]);
    for (let i = 0; i < 100; i++) r.push("cccccccccc");
    assert.deepEqual(r.seen, ["<oversize>"], "reported once for the whole line");
    r.push("dd\nnext\n");
    assert.deepEqual(r.seen, ["<oversize>", "next"]);
    assert.equal(r.splitter.pending, 0);
  });

  test("oversize and good lines in one chunk keep their order", () => {
    const r = recorder(4);
    r.push("ab\ntoolong\ncd\nalsotoolong\nef\n");
    assert.deepEqual(r.seen, ["ab", "<oversize>", "cd", "<oversize>", "ef"]);
  });

  test("any stream in any chunks: the same lines as a whole-stream split, and a framed line is its bytes and a newline", () => {
    const stream = fc.array(fc.oneof(fc.uint8Array({ maxLength: 12 }), fc.constantFrom(Uint8Array.of(10), Uint8Array.of(13, 10), Uint8Array.of(13))), { maxLength: 20 });
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 1, max: 16 }), (pieces, cuts, max) => {
        const bytes = Buffer.concat(pieces);
        // Reference: split the whole stream at once, by the rules above.
        const want: string[] = [];
        let from = 0;
        for (let nl = bytes.indexOf(10); nl !== -1; from = nl + 1, nl = bytes.indexOf(10, from)) {
          let line = bytes.subarray(from, nl);
          if (line.length > max) want.push("<oversize>");
          else {
            if (line.at(-1) === 13) line = line.subarray(0, -1);
            if (line.length) want.push(line.toString("hex"));
          }
        }
        // An unterminated tail is refused as soon as it is too long.
        if (bytes.length - from > max) want.push("<oversize>");
        const got: string[] = [];
        const splitter = new LineSplitter(
          (line, framed) => {
            got.push(line.toString("hex"));
            if (framed) assert.deepEqual(framed, Buffer.concat([line, Buffer.of(10)]), "framed is the line and its newline");
            // Only a line without a stripped CR may be framed: its bytes then run on to the newline.
            if (framed) assert.equal(line.buffer, framed.buffer);
          },
          () => got.push("<oversize>"),
          max,
        );
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        let prev = 0;
        for (const c of [...at, bytes.length]) {
          splitter.push(bytes.subarray(prev, c));
          prev = c;
        }
        assert.deepEqual(got, want);
      }),
      { numRuns: 3000 },
    );
  });

  test("a line that arrives whole is handed over framed, the same memory as the chunk; a CRLF line is not", () => {
    const seen: Array<[string, string | undefined]> = [];
    const splitter = new LineSplitter((line, framed) => seen.push([line.toString(), framed?.toString()]));
    const chunk = Buffer.from('{"a":1}\n{"b":2}\r\n{"c"');
    splitter.push(chunk);
    splitter.push(Buffer.from(":3}\n"));
    assert.deepEqual(seen, [
      ['{"a":1}', '{"a":1}\n'],
      ['{"b":2}', undefined],
      ['{"c":3}', undefined],
    ]);
  });
});
