import { readFile, stat } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import * as z from "zod";
import { describeError } from "../errors.js";
import { defineTool, errorResult, textResult } from "./types.js";

const [MAX_BYTES, SNIFF_BYTES, CACHE_ENTRIES] = [10 * 1024 * 1024, 8 * 1024, 64];
// Entries alone do not bound memory (one summary can be 4 MB): the total cached text is capped as well.
const CACHE_CHARS = 8 * 1024 * 1024;
const MODES = ["brief", "detailed", "key_points", "technical"] as const;
type Mode = (typeof MODES)[number];

/** Prose is split into sentences; headings, code fences and tables are kept verbatim or not at all. */
interface Block { kind: "heading" | "code" | "table" | "para"; text: string; sentences: string[] }
/** One candidate piece of a summary: `block` and `order` put it back in document order. */
interface Unit { block: number; order: number; text: string }
type Counts = "original_chars" | "original_tokens" | "summary_chars" | "summary_tokens" | "reduction_percent";
type Summary = { summary: string; mode: Mode } & Record<Counts, number>;

const cache = new Map<string, Summary>();
let cachedChars = 0;
const tokens = (chars: number): number => Math.ceil(chars / 4);
// . ! ? then a capital, digit or opening mark ("Node.js", "1.2.3" stay whole), or a CJK stop. Not Intl.Segmenter:
// V8 copies the whole input into every segment it yields, so a 10 MB paragraph ran out of memory.
// Non-ASCII written as escapes (…, ” ’, “ ‘, 。！？): the bundle must be ASCII (src/front.ts reads it as latin1).
const SENTENCE_END = /(?<=[.!?\u2026]["'\u201d\u2019)\]*_]*)\s+(?=[\p{Lu}\p{N}"'\u201c\u2018`([*_])|(?<=[\u3002\uff01\uff1f])\s*/u;
const STOP_WORDS = new Set(
  ("about after all also and are because been but can could did does for from had has have her his how into its just may " +
    "might more most not our she should some such than that the their them then there these they this those too under " +
    "very was were what when where which while who why will with would you your").split(" "),
);
const TECHNICAL =
  /`[^`]+`|https?:\/\/|\b\w+\.(?:[cm]?[jt]sx?|json|ya?ml|toml|md|py|go|rs|java|sh|sql|c|h|cpp)\b|(?:^|\s)--?[a-zA-Z][\w-]*|\b[a-z]+[A-Z]\w*|\b[a-z]+_[a-z_]+\b|\w\(\)|\bv?\d+\.\d+(?:\.\d+)?\b|\b\d+(?:\.\d+)?\s?(?:ms|KB|MB|GB|TB|%|Hz|MHz|GHz|bytes?)\b|\b(?:APIs?|CLI|HTTPS?|JSON|YAML|SQL|configur\w*|config|functions?|methods?|parameters?|arguments?|exceptions?|install\w*|commands?|endpoints?|databases?|quer(?:y|ies)|schemas?|protocols?|compil\w*|dependenc\w*|modules?|librar\w*|threads?|algorithms?)\b/;

/** Splits Markdown or plain text into blocks; each list item is a paragraph of its own. */
function parse(text: string): Block[] {
  const blocks: Block[] = [];
  let para: string[] = [];
  const flush = (): void => {
    const t = para.join(" ").replace(/\s+/g, " ").trim();
    if (t) blocks.push({ kind: "para", text: t, sentences: t.split(SENTENCE_END).map((s) => s.trim()).filter(Boolean) });
    para = [];
  };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const fence = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    const item = /^\s*(?:[-*+]|\d+[.)])\s+(.*)$/.exec(line);
    if (fence || /^\s*\|/.test(line)) {
      flush();
      const rows = [line];
      const inside = (l: string): boolean => (fence ? !l.trimStart().startsWith(fence) : /^\s*\|/.test(l));
      while (i + 1 < lines.length && inside(lines[i + 1] ?? "")) rows.push(lines[++i] ?? "");
      if (fence) rows.push(lines[++i] ?? fence); // the closing fence, added if the file ends without one
      blocks.push({ kind: fence ? "code" : "table", text: rows.join("\n"), sentences: [] });
    } else if (/^#{1,6}\s+\S/.test(line)) {
      flush();
      blocks.push({ kind: "heading", text: line.trim(), sentences: [] });
    } else if (!line.trim() || item) {
      flush();
      if (item) para.push(item[1] ?? "");
    } else {
      para.push(line.trim());
    }
  }
  flush();
  return blocks;
}

/** Cuts at a word boundary so that the result, ellipsis included, is at most `max` characters. */
function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max < 2) return "";
  const cut = s.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  return `${space > max / 2 ? cut.slice(0, space) : cut}…`;
}

/** Takes units in the order given while they fit; each is charged 3 characters for its separator. */
function pick(units: Unit[], budget: number, opts: { limit?: number; skipMisses?: boolean } = {}): Unit[] {
  const out: Unit[] = [];
  let used = 0;
  for (const u of units) {
    if (out.length >= (opts.limit ?? Infinity)) break;
    if (used + u.text.length + 3 > budget) {
      if (opts.skipMisses) continue;
      break;
    }
    out.push(u);
    used += u.text.length + 3;
  }
  return out.sort((x, y) => x.block - y.block || x.order - y.order);
}

/** Puts picked units back together in document order, one paragraph per block. */
function assemble(picked: Unit[], blocks: Block[]): string {
  const byBlock = new Map<number, string[]>();
  for (const u of picked) byBlock.set(u.block, byBlock.get(u.block) ?? []).get(u.block)?.push(u.text);
  const entries = [...byBlock];
  // A heading whose section ran out of budget would end the summary announcing nothing.
  while (entries.length && blocks[entries[entries.length - 1]?.[0] ?? -1]?.kind === "heading") entries.pop();
  return entries.map(([b, texts]) => texts.join(blocks[b]?.kind === "para" ? " " : "\n")).join("\n\n");
}

const nthSentences = (blocks: Block[], nth: number): Unit[] =>
  blocks.flatMap((b, i) => (b.sentences[nth] ? [{ block: i, order: nth, text: b.sentences[nth] }] : []));
const verbatim = (blocks: Block[], kinds: Block["kind"][]): Unit[] =>
  blocks.flatMap((b, i) => (kinds.includes(b.kind) ? [{ block: i, order: 0, text: b.text }] : []));

function brief(blocks: Block[], budget: number): string {
  return pick(nthSentences(blocks, 0), budget, { limit: 5 }).map((u) => u.text).join(" ");
}

function detailed(blocks: Block[], budget: number): string {
  // Round-robin (every paragraph's first sentence, then every second one...) so detail never costs coverage.
  const first = [...verbatim(blocks, ["heading"]), ...nthSentences(blocks, 0)].sort((x, y) => x.block - y.block);
  return assemble(pick([...first, ...nthSentences(blocks, 1), ...nthSentences(blocks, 2)], budget), blocks);
}

function keyPoints(blocks: Block[], budget: number): string {
  const words = (s: string): string[] =>
    (s.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'_-]*/gu) ?? []).filter((w) => w.length > 2 && !STOP_WORDS.has(w) && !/^\d+$/.test(w));
  const freq = new Map<string, number>();
  for (const b of blocks) for (const w of b.sentences.flatMap(words)) freq.set(w, (freq.get(w) ?? 0) + 1);
  const top = [...freq.values()].reduce((m, n) => Math.max(m, n), 1); // no spread: a big file has too many words for one call
  const candidates = blocks.flatMap((b, i) =>
    b.sentences.flatMap((text, order) => {
      const ws = words(text);
      // A sentence ending in ":" only announces what follows; fewer than three content words say too little.
      if (ws.length < 3 || text.endsWith(":")) return [];
      // Averaged, so that a long sentence does not win by length alone.
      const score = ws.reduce((s, w) => s + (freq.get(w) ?? 0) / top, 0) / ws.length;
      return [{ block: i, order, text: `- ${text}`, score, words: new Set(ws) }];
    }),
  );
  candidates.sort((x, y) => y.score - x.score);
  // Near-duplicates (mostly the same content words) would spend every bullet on one point.
  const kept: Set<string>[] = [];
  const similar = (a: Set<string>, b: Set<string>): boolean => [...a].filter((w) => b.has(w)).length / new Set([...a, ...b]).size >= 0.6;
  const diverse = candidates.filter((c) => kept.length < 40 && !kept.some((k) => similar(k, c.words)) && kept.push(c.words) > 0);
  // The top third of the distinct sentences, 3 to 10 of them: a short text has few points worth a bullet.
  const limit = Math.min(10, Math.max(3, Math.ceil(diverse.length / 3)));
  return pick(diverse, budget, { limit, skipMisses: true }).map((u) => u.text).join("\n");
}

function technical(blocks: Block[], budget: number, preserveCode: boolean): string {
  const units = [
    ...verbatim(blocks, preserveCode ? ["heading", "code", "table"] : ["heading", "table"]),
    ...blocks.flatMap((b, i) => b.sentences.flatMap((text, order) => (TECHNICAL.test(text) ? [{ block: i, order, text }] : []))),
  ].sort((x, y) => x.block - y.block || x.order - y.order);
  // Skips what does not fit and goes on, so that one large code block does not hide every later section.
  return assemble(pick(units, budget, { skipMisses: true }), blocks) || brief(blocks, budget);
}

function summarize(text: string, mode: Mode, budget: number, preserveCode: boolean): string {
  const blocks = parse(text);
  const summary =
    mode === "brief" ? brief(blocks, budget)
    : mode === "detailed" ? detailed(blocks, budget)
    : mode === "key_points" ? keyPoints(blocks, budget)
    : technical(blocks, budget, preserveCode);
  // A budget smaller than any one sentence: a cut-down first sentence beats an empty answer.
  return truncate(summary || (blocks.find((b) => b.sentences.length)?.sentences[0] ?? blocks[0]?.text ?? ""), budget);
}

function remember(key: string, result: Summary): void {
  // Deleted before being set so that a hit moves to the back: eviction then drops the least recently used.
  const previous = cache.get(key);
  if (previous) cachedChars -= previous.summary.length;
  cache.delete(key);
  cache.set(key, result);
  cachedChars += result.summary.length;
  for (const [k, v] of cache) {
    if (cache.size <= CACHE_ENTRIES && cachedChars <= CACHE_CHARS) break;
    cache.delete(k);
    cachedChars -= v.summary.length;
  }
}

/** Summarizes a UTF-8 text file by extracting its most telling sentences, within a size budget. */
export const documentSummarizerTool = defineTool({
  name: "document_summarizer",
  title: "Document summarizer",
  description:
    "Summarizes a local UTF-8 text or Markdown file (up to 10 MB) by extracting its key sentences, to save context " +
    "before reading it in full. Modes: brief, detailed, key_points (bullets) or technical (headings, code, technical sentences).",
  inputSchema: {
    file_path: z.string().min(1).describe("Path of the file; relative paths are resolved against the gateway's working directory, ~ against the home directory."),
    mode: z.enum(MODES).default("brief").describe("brief: lead sentences; detailed: up to three sentences per paragraph, with headings; key_points: bullets of the most representative sentences; technical: headings, code blocks, tables and technical sentences."),
    max_tokens: z.number().int().min(100).max(10000).optional().describe("Upper bound on the summary's size in tokens (about 4 characters each)."),
    max_percentage: z.number().int().min(1).max(100).default(40).describe("Upper bound on the summary's size as a percentage of the original (default 40)."),
    preserve_code: z.boolean().default(true).describe("In technical mode, keep fenced code blocks (default true)."),
    use_cache: z.boolean().default(true).describe("Reuse the summary of an unchanged file from an earlier call (default true)."),
  },
  outputSchema: {
    summary: z.string(),
    original_chars: z.number(),
    original_tokens: z.number().describe("Estimated as characters / 4, rounded up."),
    summary_chars: z.number(),
    summary_tokens: z.number(),
    reduction_percent: z.number(),
    mode: z.string(),
    cached: z.boolean().describe("True when served from the in-memory cache."),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run({ file_path, mode, max_tokens, max_percentage, preserve_code, use_cache }, ctx) {
    const home = file_path === "~" || file_path.startsWith("~/") || file_path.startsWith("~\\");
    const file = home ? path.join(os.homedir(), file_path.slice(1)) : path.resolve(process.cwd(), file_path);
    let info;
    try {
      info = await stat(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return errorResult(code === "ENOENT" || code === "ENOTDIR" ? `File not found: ${file}` : `Cannot read ${file}: ${describeError(err)}`);
    }
    if (info.isDirectory()) return errorResult(`${file} is a directory; give the path of a file.`);
    if (!info.isFile()) return errorResult(`${file} is not a regular file.`);
    const tooLarge = (n: number): string => `File too large: ${file} is ${(n / 1024 / 1024).toFixed(1)} MB; the limit is 10 MB.`;
    if (info.size > MAX_BYTES) return errorResult(tooLarge(info.size));

    const key = [file, info.mtimeMs, info.size, mode, max_tokens ?? "", max_percentage, preserve_code].join("\0");
    const hit = use_cache ? cache.get(key) : undefined;
    let r = hit;
    if (!r) {
      let bytes: Buffer;
      try {
        bytes = await readFile(file, { signal: ctx.signal });
      } catch (err) {
        return errorResult(`Cannot read ${file}: ${describeError(err)}`);
      }
      if (bytes.length > MAX_BYTES) return errorResult(tooLarge(bytes.length)); // grew since stat
      if (bytes.subarray(0, SNIFF_BYTES).includes(0)) return errorResult(`${file} looks like a binary file (it contains NUL bytes); only UTF-8 text can be summarized.`);
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        return errorResult(`${file} is not valid UTF-8 text; only UTF-8 text can be summarized.`);
      }
      const budget = Math.min(max_tokens ? max_tokens * 4 : Infinity, Math.floor((text.length * max_percentage) / 100));
      const summary = summarize(text, mode, budget, preserve_code);
      const reduction = text.length ? Math.round((1 - summary.length / text.length) * 1000) / 10 : 0;
      r = { summary, original_chars: text.length, original_tokens: tokens(text.length), summary_chars: summary.length, summary_tokens: tokens(summary.length), reduction_percent: reduction, mode };
    }
    // Stored even when use_cache is false: that call read the file anew, so its summary is the freshest.
    remember(key, r);
    const stats = `[${file}: ${r.original_chars} → ${r.summary_chars} chars, ~${r.original_tokens} → ~${r.summary_tokens} tokens, ${r.reduction_percent}% shorter, mode ${mode}${hit ? ", from cache" : ""}]`;
    const body = r.original_chars === 0 ? "(the file is empty: nothing to summarize)" : r.summary;
    return textResult(`${body}\n\n${stats}`, { ...r, cached: hit !== undefined });
  },
});
