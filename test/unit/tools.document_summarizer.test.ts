import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { structured, text, toolUnderTest } from "./toolKit.js";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

interface Stats {
  summary: string;
  original_chars: number;
  original_tokens: number;
  summary_chars: number;
  summary_tokens: number;
  reduction_percent: number;
  mode: string;
  cached: boolean;
}

const { registry, call } = toolUnderTest("document_summarizer");


async function summarize(args: Record<string, unknown>): Promise<Stats> {
  const result = await call({ use_cache: false, ...args });
  assert.notEqual(result.isError, true, text(result));
  const stats = result.structuredContent as unknown as Stats;
  assert.ok(text(result).startsWith(`${stats.summary}\n\n[`), "the text is the summary, then the stats line");
  return stats;
}

async function expectError(args: Record<string, unknown>, pattern: RegExp): Promise<string> {
  const result = await call(args);
  assert.equal(result.isError, true, `expected an error for ${JSON.stringify(args)}`);
  assert.match(text(result), pattern);
  return text(result);
}

const CODE = "```ts\nconst gateway = await startGateway({ port: 8080 });\n```";
const FIRST = "The gateway lets every MCP client share one set of servers.";
const DOC = [
  "# Gateway guide",
  "",
  `${FIRST} Clients connect through a bridge process. The bridge forwards bytes without parsing them. It adds almost no latency.`,
  "",
  "## Installation",
  "",
  "Run `npm install -g claude-mpm-gateway` to install version 1.2.3 globally. The installer needs no compiler. Nothing else is written to the system.",
  "",
  CODE,
  "",
  "## Why one gateway",
  "",
  "Starting one gateway per client wastes memory and starts every server many times. A shared gateway starts each server once. The servers outlive any one client session.",
  "",
  "- Sessions stay open while the gateway restarts a crashed server.",
  "- The gateway restarts a crashed server with backoff after 500 ms.",
  "",
  "## Sessions",
  "",
  "Each client session keeps its own state in the gateway. A session survives a restart of the gateway primary. The bridge replays the initialize request so the client never notices.",
  "",
  "## Servers",
  "",
  "Downstream servers are started once by the gateway and shared by every client session. A crashed server is restarted with backoff. Its tools disappear from the list until the server is back.",
  "",
  "## Logging",
  "",
  "The gateway writes its log to a file in the state directory. Log lines never go to stdout, because stdout belongs to the protocol. Old logs are rotated when they grow past five megabytes.",
  "",
  "## Caveats",
  "",
  "The gateway cannot share servers between two different users. Each user gets a separate gateway with separate servers. Yesterday Margaret bought purple umbrellas downtown. Sharing across users would need authentication the protocol does not define.",
  "",
  "## Shutdown",
  "",
  "When the last client session closes, the gateway waits for a linger period before it exits. A new client session during that period cancels the shutdown. The servers are stopped by process group so that nothing stays behind.",
].join("\n");

let dir = "";
let doc = "";
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mpm-summarizer-"));
  doc = path.join(dir, "guide.md");
  fs.writeFileSync(doc, DOC);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("document_summarizer", () => {
  test("lists file_path as required, the mode enum and the integer bounds", () => {
    const tool = registry.list().find((t) => t.name === "document_summarizer");
    assert.ok(tool);
    assert.deepEqual(tool.inputSchema.required, ["file_path"]);
    const props = tool.inputSchema.properties as Record<string, Record<string, unknown>>;
    assert.deepEqual(props.mode?.enum, ["brief", "detailed", "key_points", "technical"]);
    assert.deepEqual([props.max_tokens?.type, props.max_tokens?.minimum, props.max_tokens?.maximum], ["integer", 100, 10000]);
    assert.deepEqual([props.max_percentage?.minimum, props.max_percentage?.maximum, props.max_percentage?.default], [1, 100, 40]);
    assert.ok(tool.outputSchema?.properties && "reduction_percent" in (tool.outputSchema.properties as object));
  });

  for (const mode of ["brief", "detailed", "key_points", "technical"]) {
    test(`${mode} mode returns a non-empty summary within 40% of the original`, async () => {
      const s = await summarize({ file_path: doc, mode });
      assert.equal(s.mode, mode);
      assert.equal(s.original_chars, DOC.length);
      assert.equal(s.original_tokens, Math.ceil(DOC.length / 4));
      assert.ok(s.summary.length > 0);
      assert.equal(s.summary_chars, s.summary.length);
      assert.equal(s.summary_tokens, Math.ceil(s.summary.length / 4));
      assert.ok(s.summary_chars <= DOC.length * 0.4, `${s.summary_chars} of ${DOC.length}`);
      assert.equal(s.reduction_percent, Math.round((1 - s.summary_chars / DOC.length) * 1000) / 10);
    });
  }

  test("brief leads with the document's first sentence and leaves code out", async () => {
    const s = await summarize({ file_path: doc, mode: "brief" });
    assert.ok(s.summary.startsWith(FIRST), s.summary);
    assert.ok(!s.summary.includes("```"));
  });

  test("detailed keeps headings and says more than brief", async () => {
    const brief = await summarize({ file_path: doc, mode: "brief" });
    const detailed = await summarize({ file_path: doc, mode: "detailed" });
    assert.ok(detailed.summary.includes("## Installation"));
    assert.ok(detailed.summary_chars > brief.summary_chars);
    // Given room, up to three sentences of a paragraph are kept, never the fourth.
    const roomy = await summarize({ file_path: doc, mode: "detailed", max_percentage: 100 });
    assert.ok(roomy.summary.includes(`${FIRST} Clients connect through a bridge process. The bridge forwards bytes without parsing them.`));
    assert.ok(!roomy.summary.includes("It adds almost no latency."));
  });

  test("key_points is a bullet list of document sentences in document order, without filler", async () => {
    const s = await summarize({ file_path: doc, mode: "key_points" });
    const bullets = s.summary.split("\n");
    assert.ok(bullets.length >= 3);
    const positions = bullets.map((b) => {
      assert.ok(b.startsWith("- "), b);
      const at = DOC.indexOf(b.slice(2));
      assert.ok(at >= 0, `not a sentence of the document: ${b}`);
      return at;
    });
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
    assert.ok(!s.summary.includes("Margaret"), "a sentence of words the document never repeats is not a key point");
  });

  test("technical keeps headings, the code block and technical sentences; preserve_code false drops the code", async () => {
    const s = await summarize({ file_path: doc, mode: "technical" });
    assert.ok(s.summary.includes(CODE), s.summary);
    assert.ok(s.summary.includes("## Installation"));
    assert.ok(s.summary.includes("Run `npm install -g claude-mpm-gateway` to install version 1.2.3 globally."));
    assert.ok(!s.summary.includes("Margaret"));
    const noCode = await summarize({ file_path: doc, mode: "technical", preserve_code: false });
    assert.ok(!noCode.summary.includes("```"));
  });

  test("max_tokens and max_percentage bound the summary", async () => {
    const byTokens = await summarize({ file_path: doc, mode: "detailed", max_tokens: 100, max_percentage: 100 });
    assert.ok(byTokens.summary_chars <= 400 && byTokens.summary_chars > 0, String(byTokens.summary_chars));
    const byPercent = await summarize({ file_path: doc, mode: "detailed", max_percentage: 10 });
    assert.ok(byPercent.summary_chars <= DOC.length * 0.1 && byPercent.summary_chars > 0);
  });

  test("a budget smaller than one sentence gives that sentence cut at a word, with an ellipsis", async () => {
    const file = path.join(dir, "one-sentence.txt");
    fs.writeFileSync(file, "This single sentence is rather long and it keeps going well past any tiny budget one could set for it.");
    const s = await summarize({ file_path: file, max_percentage: 20 });
    assert.ok(s.summary_chars <= 20, s.summary);
    assert.match(s.summary, /^This single\S*.*…$/);
  });

  test("the second identical call is served from the cache; a changed file or use_cache false is not", async () => {
    const file = path.join(dir, "cached.md");
    fs.writeFileSync(file, DOC);
    const first = await call({ file_path: file, mode: "key_points" });
    assert.equal(structured(first).cached, false);
    const second = await call({ file_path: file, mode: "key_points" });
    assert.equal(structured(second).cached, true);
    assert.equal(structured(second).summary, structured(first).summary);
    assert.match(text(second), /, from cache\]$/);
    const otherOptions = await call({ file_path: file, mode: "key_points", max_percentage: 30 });
    assert.equal(structured(otherOptions).cached, false);
    const bypass = await call({ file_path: file, mode: "key_points", use_cache: false });
    assert.equal(structured(bypass).cached, false);
    fs.writeFileSync(file, `Fresh opening sentence about caches.\n\n${DOC}`);
    const changed = await call({ file_path: file, mode: "brief" });
    assert.equal(structured(changed).cached, false);
    assert.match(String(structured(changed).summary), /^Fresh opening sentence about caches\./);
  });

  test("a relative path is resolved against the working directory", async () => {
    const s = await summarize({ file_path: path.relative(process.cwd(), doc) });
    assert.ok(s.summary.startsWith(FIRST));
  });

  test("an empty file is summarized as empty, not as an error", async () => {
    const file = path.join(dir, "empty.txt");
    fs.writeFileSync(file, "");
    const result = await call({ file_path: file });
    assert.equal(result.isError, undefined);
    assert.equal(structured(result).summary, "");
    assert.match(text(result), /empty/);
  });

  test("a missing file is an error naming its absolute path", async () => {
    const missing = path.join(dir, "nope.md");
    await expectError({ file_path: missing }, new RegExp(`^File not found: ${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
    await expectError({ file_path: path.join(doc, "child.md") }, /^File not found:/);
  });

  test("a directory is an error", async () => {
    const message = await expectError({ file_path: dir }, /is a directory/);
    assert.ok(message.includes(dir));
  });

  test("a binary file is an error", async () => {
    const file = path.join(dir, "image.png");
    fs.writeFileSync(file, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]));
    const message = await expectError({ file_path: file }, /looks like a binary file/);
    assert.ok(message.includes(file));
  });

  test("invalid UTF-8 without NUL bytes is an error", async () => {
    const file = path.join(dir, "latin1.txt");
    fs.writeFileSync(file, Buffer.from("caf\xe9 cr\xe8me br\xfbl\xe9e", "latin1"));
    await expectError({ file_path: file }, /is not valid UTF-8/);
  });

  test("a file over 10 MB is refused before it is read; exactly 10 MB is not too large", async () => {
    const big = path.join(dir, "big.txt");
    fs.closeSync(fs.openSync(big, "w"));
    fs.truncateSync(big, 10 * 1024 * 1024 + 1);
    await expectError({ file_path: big }, /^File too large: .*big\.txt is 10\.0 MB; the limit is 10 MB\.$/);
    fs.truncateSync(big, 10 * 1024 * 1024);
    // The sparse file is all zeros, so it passes the size check and then fails as binary.
    await expectError({ file_path: big }, /looks like a binary file/);
  });

  test("wrong types, out-of-range integers, a missing path and extra arguments are rejected", async () => {
    for (const [args, pattern] of [
      [{}, /file_path:/],
      [{ file_path: 5 }, /file_path:/],
      [{ file_path: "" }, /file_path:/],
      [{ file_path: doc, mode: "summary" }, /mode:/],
      [{ file_path: doc, max_tokens: 99 }, /max_tokens: Too small/],
      [{ file_path: doc, max_tokens: 10_001 }, /max_tokens: Too big/],
      [{ file_path: doc, max_tokens: 150.5 }, /max_tokens:/],
      [{ file_path: doc, max_percentage: 0 }, /max_percentage: Too small/],
      [{ file_path: doc, max_percentage: 101 }, /max_percentage: Too big/],
      [{ file_path: doc, preserve_code: "no" }, /preserve_code:/],
      [{ file_path: doc, language: "en" }, /Unrecognized key: "language"/],
    ] as const) {
      await expectError({ ...args }, pattern);
    }
  });
});
