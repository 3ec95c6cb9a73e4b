/** Words too common in tool descriptions and queries to tell tools apart. */
const STOP = new Set(
  "a an and are as at be by can do does for from get i in into is it its me my of on or that the this to use with you your".split(" "),
);

/** A crude suffix stripper: "echoes", "echoing" and "echoed" all become "echo", in queries and tools alike. */
function stem(word: string): string {
  if (word.length > 4 && word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && /(ch|sh|x|z|ss|o)es$/.test(word)) return word.slice(0, -2);
  if (word.length > 6 && word.endsWith("ing") && !word.endsWith("thing")) return word.slice(0, -3);
  if (word.length > 4 && word.endsWith("ed")) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1);
  return word;
}

/** Words of a name or text: split at non-letters and camelCase, lower-cased, stemmed, stop words dropped. */
export function terms(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w && !STOP.has(w))
    .map(stem);
}

/** One searchable item: its name counts more than its description. */
export interface Doc {
  name: string;
  description?: string;
}

const K1 = 1.2;
const B = 0.75;
/** A name's words are repeated this often: a query word in the name says more than one in a description. */
const NAME_WEIGHT = 3;

/**
 * Okapi BM25 over names and descriptions, computed locally (no network, no model). Ties are broken by name,
 * so the same query over the same tools always ranks the same way.
 */
export function rank<T extends Doc>(docs: readonly T[], query: string, limit: number): Array<{ doc: T; score: number }> {
  const wanted = [...new Set(terms(query))];
  if (!wanted.length || !docs.length) return [];
  const bags = docs.map((d) => {
    const words = [...Array<string[]>(NAME_WEIGHT).fill(terms(d.name)).flat(), ...terms(d.description ?? "")];
    const tf = new Map<string, number>();
    for (const w of words) tf.set(w, (tf.get(w) ?? 0) + 1);
    return { doc: d, tf, length: words.length };
  });
  const avg = bags.reduce((s, b) => s + b.length, 0) / bags.length || 1;
  const idf = new Map<string, number>();
  for (const w of wanted) {
    const n = bags.filter((b) => b.tf.has(w)).length;
    idf.set(w, Math.log(1 + (bags.length - n + 0.5) / (n + 0.5)));
  }
  return bags
    .map((b) => {
      let score = 0;
      for (const w of wanted) {
        const f = b.tf.get(w) ?? 0;
        if (f) score += idf.get(w)! * ((f * (K1 + 1)) / (f + K1 * (1 - B + (B * b.length) / avg)));
      }
      return { doc: b.doc, score };
    })
    .filter((r) => r.score > 0)
    .sort((x, y) => y.score - x.score || (x.doc.name < y.doc.name ? -1 : x.doc.name > y.doc.name ? 1 : 0))
    .slice(0, limit);
}
