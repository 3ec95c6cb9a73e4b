import { UriTemplate, type Prompt, type Resource, type ResourceTemplateType as ResourceTemplate, type Tool } from "@modelcontextprotocol/client";
import { logger } from "../log.js";
import { Namespace, type Original } from "./namespace.js";

const log = logger("downstream");

/** What the catalog needs to know of one server. */
export interface CatalogSource {
  name: string;
  running: boolean;
  tools: Tool[];
  resources: Resource[];
  templates: ResourceTemplate[];
  prompts: Prompt[];
}

/**
 * The aggregate of every downstream server's lists as clients see them: tools and prompts renamed into the
 * namespace, resources and templates under their own URIs (a URI names the thing itself, and clients pass it
 * back as-is), with the maps that route a client's request to the server behind it.
 */
export class Catalog {
  readonly tools: Tool[] = [];
  readonly prompts: Prompt[] = [];
  readonly resources: Resource[] = [];
  readonly templates: ResourceTemplate[] = [];
  private readonly toolNames: Namespace;
  private readonly promptNames: Namespace;
  private readonly resourceOwner = new Map<string, string>();
  private readonly templateOwner = new Map<string, string>();
  private readonly matchers: Array<{ template: UriTemplate; server: string }> = [];

  /**
   * `known` lists each server's last known tool names, running or not, so a server's names stay the same
   * across its restarts and a call to a down server can say so instead of "unknown tool".
   */
  constructor(sources: CatalogSource[], reserved: Iterable<string>, known: Map<string, string[]>, warned: Set<string>) {
    const toolPairs: Original[] = [];
    for (const s of sources) for (const name of known.get(s.name) ?? s.tools.map((t) => t.name)) toolPairs.push({ server: s.name, name });
    this.toolNames = new Namespace(toolPairs, reserved);
    this.promptNames = new Namespace(sources.flatMap((s) => s.prompts.map((p) => ({ server: s.name, name: p.name }))));
    for (const s of sources) {
      if (!s.running) continue;
      for (const t of s.tools) {
        const name = this.toolNames.exported(s.name, t.name);
        // The gateway does not offer MCP tasks (experimental): a tool that runs only as a task cannot be
        // called through it, and no client should try task mode on the others.
        if (!name || t.execution?.taskSupport === "required") continue;
        const { execution: _execution, ...plain } = t;
        this.tools.push({ ...plain, name });
      }
      for (const p of s.prompts) this.prompts.push({ ...p, name: this.promptNames.exported(s.name, p.name)! });
      for (const r of s.resources) {
        const owner = this.resourceOwner.get(r.uri);
        if (owner === undefined) {
          this.resourceOwner.set(r.uri, s.name);
          this.resources.push(r);
        } else if (owner !== s.name) conflict(warned, `resource ${r.uri}`, owner, s.name);
      }
      for (const t of s.templates) {
        const owner = this.templateOwner.get(t.uriTemplate);
        if (owner === undefined) {
          this.templateOwner.set(t.uriTemplate, s.name);
          this.templates.push(t);
          try {
            this.matchers.push({ template: new UriTemplate(t.uriTemplate), server: s.name });
          } catch {
            // a template we cannot parse is still listed; reads of its URIs need an exact resource entry
          }
        } else if (owner !== s.name) conflict(warned, `resource template ${t.uriTemplate}`, owner, s.name);
      }
    }
  }

  /** The server and original name behind an exported tool name (also for servers that are down). */
  tool(exported: string): Original | undefined {
    return this.toolNames.resolve(exported);
  }

  /** The server and original name behind an exported prompt name. */
  prompt(exported: string): Original | undefined {
    return this.promptNames.resolve(exported);
  }

  /** The server that serves a resource URI: listed resources first, then the first matching template. */
  resourceServer(uri: string): string | undefined {
    const listed = this.resourceOwner.get(uri);
    if (listed !== undefined) return listed;
    for (const m of this.matchers) {
      try {
        if (m.template.match(uri)) return m.server;
      } catch {
        // an over-long URI: no match
      }
    }
    return undefined;
  }

  /** The server behind a resource template string (for completions of its variables). */
  templateServer(uriTemplate: string): string | undefined {
    return this.templateOwner.get(uriTemplate) ?? this.resourceServer(uriTemplate);
  }
}

function conflict(warned: Set<string>, what: string, first: string, second: string): void {
  const key = `${what}\0${second}`;
  if (warned.has(key)) return;
  warned.add(key);
  log.warn(`${what} is served by both "${first}" and "${second}": "${first}" (listed first) keeps it`);
}

/** True when a URI is one of a template's expansions (an unparsable template matches nothing). */
export function templateMatches(uriTemplate: string, uri: string): boolean {
  try {
    return new UriTemplate(uriTemplate).match(uri) !== null;
  } catch {
    return false;
  }
}
