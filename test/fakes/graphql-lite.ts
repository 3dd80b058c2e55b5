/**
 * A small GraphQL reader, cost calculator and executor for the fake Shopify Admin
 * API: operations, variables with defaults, aliases, arguments, nested selections,
 * inline fragments and block strings — what the pipeline sends — plus Shopify's
 * published cost rules (object 1, scalar 0, connection 2 + size × node, mutation 10).
 * Trade-off: there is no schema. A field is an object when it has a selection set
 * and a connection when it takes `first`/`last`; an unknown field resolves to null
 * instead of failing validation, which is enough to exercise the client faithfully.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

type ValueNode =
  | { kind: "const"; value: Json }
  | { kind: "var"; name: string }
  | { kind: "list"; items: ValueNode[] }
  | { kind: "object"; fields: Record<string, ValueNode> };

export interface FieldNode {
  alias: string;
  name: string;
  args: Record<string, ValueNode>;
  selections: FieldNode[] | null;
}

export interface OperationNode {
  type: "query" | "mutation";
  selections: FieldNode[];
  defaults: Record<string, Json>;
}

export class GraphqlSyntaxError extends Error {}

type Token = { kind: "punct" | "name" | "number" | "string"; text: string; value?: string };

const PUNCT = new Set(["{", "}", "(", ")", ":", "$", "!", "[", "]", "=", "@", "|", "&"]);

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === "#") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (/[\s,\uFEFF]/.test(c)) {
      i++;
    } else if (source.startsWith("...", i)) {
      tokens.push({ kind: "punct", text: "..." });
      i += 3;
    } else if (PUNCT.has(c)) {
      tokens.push({ kind: "punct", text: c });
      i++;
    } else if (/[_A-Za-z]/.test(c)) {
      const m = /^[_A-Za-z][_0-9A-Za-z]*/.exec(source.slice(i)) as RegExpExecArray;
      tokens.push({ kind: "name", text: m[0] });
      i += m[0].length;
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(source.slice(i));
      if (!m) throw new GraphqlSyntaxError(`Unexpected character at ${i}`);
      tokens.push({ kind: "number", text: m[0] });
      i += m[0].length;
    } else if (source.startsWith('"""', i)) {
      const end = source.indexOf('"""', i + 3);
      if (end < 0) throw new GraphqlSyntaxError("Unterminated block string");
      tokens.push({ kind: "string", text: '"""', value: blockString(source.slice(i + 3, end)) });
      i = end + 3;
    } else if (c === '"') {
      let j = i + 1;
      let out = "";
      while (j < source.length && source[j] !== '"') {
        if (source[j] === "\\") {
          const e = source[j + 1];
          if (e === "u") {
            out += String.fromCharCode(Number.parseInt(source.slice(j + 2, j + 6), 16));
            j += 6;
            continue;
          }
          out += e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e === "b" ? "\b" : e === "f" ? "\f" : e;
          j += 2;
        } else {
          out += source[j];
          j++;
        }
      }
      if (j >= source.length) throw new GraphqlSyntaxError("Unterminated string");
      tokens.push({ kind: "string", text: '"', value: out });
      i = j + 1;
    } else {
      throw new GraphqlSyntaxError(`Unexpected character "${c}" at ${i}`);
    }
  }
  return tokens;
}

function blockString(raw: string): string {
  const lines = raw.replace(/\r\n?/g, "\n").split("\n");
  let indent = Number.POSITIVE_INFINITY;
  for (const line of lines.slice(1)) {
    const m = /^[ \t]*/.exec(line) as RegExpExecArray;
    if (m[0].length < line.length) indent = Math.min(indent, m[0].length);
  }
  const out = lines.map((l, n) => (n === 0 || indent === Number.POSITIVE_INFINITY ? l : l.slice(indent)));
  while (out.length > 0 && (out[0] ?? "").trim() === "") out.shift();
  while (out.length > 0 && (out[out.length - 1] ?? "").trim() === "") out.pop();
  return out.join("\n").replace(/\\"""/g, '"""');
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  document(): OperationNode {
    let op: OperationNode | null = null;
    while (this.peek()) {
      const t = this.peek() as Token;
      if (t.kind === "name" && t.text === "fragment") throw new GraphqlSyntaxError("Fragments are not supported");
      if (op) throw new GraphqlSyntaxError("Only one operation per document is supported");
      op = this.operation();
    }
    if (!op) throw new GraphqlSyntaxError("Empty document");
    return op;
  }

  private operation(): OperationNode {
    const t = this.peek() as Token;
    if (t.kind === "punct" && t.text === "{") return { type: "query", selections: this.selectionSet(), defaults: {} };
    const type = this.expectName();
    if (type !== "query" && type !== "mutation") throw new GraphqlSyntaxError(`Unsupported operation "${type}"`);
    if (this.peek()?.kind === "name") this.pos++;
    const defaults: Record<string, Json> = {};
    if (this.eat("(")) {
      while (!this.eat(")")) {
        this.expect("$");
        const name = this.expectName();
        this.expect(":");
        this.skipType();
        if (this.eat("=")) {
          const v = this.value();
          defaults[name] = resolveValue(v, {});
        }
      }
    }
    this.skipDirectives();
    return { type, selections: this.selectionSet(), defaults };
  }

  private skipType(): void {
    if (this.eat("[")) {
      this.skipType();
      this.expect("]");
    } else {
      this.expectName();
    }
    this.eat("!");
  }

  private skipDirectives(): void {
    while (this.eat("@")) {
      this.expectName();
      if (this.peek()?.text === "(") this.args();
    }
  }

  private selectionSet(): FieldNode[] {
    this.expect("{");
    const out: FieldNode[] = [];
    while (!this.eat("}")) {
      if (this.eat("...")) {
        const t = this.peek();
        if (t?.kind === "name" && t.text === "on") {
          this.pos++;
          this.expectName();
        } else if (t?.kind === "name") {
          throw new GraphqlSyntaxError("Fragment spreads are not supported");
        }
        this.skipDirectives();
        out.push(...this.selectionSet());
        continue;
      }
      let alias = this.expectName();
      let name = alias;
      if (this.eat(":")) name = this.expectName();
      const args = this.peek()?.text === "(" ? this.args() : {};
      this.skipDirectives();
      const selections = this.peek()?.text === "{" ? this.selectionSet() : null;
      if (alias === "") alias = name;
      out.push({ alias, name, args, selections });
    }
    return out;
  }

  private args(): Record<string, ValueNode> {
    this.expect("(");
    const out: Record<string, ValueNode> = {};
    while (!this.eat(")")) {
      const name = this.expectName();
      this.expect(":");
      out[name] = this.value();
    }
    return out;
  }

  private value(): ValueNode {
    const t = this.next();
    if (t.kind === "punct" && t.text === "$") return { kind: "var", name: this.expectName() };
    if (t.kind === "number") return { kind: "const", value: Number(t.text) };
    if (t.kind === "string") return { kind: "const", value: t.value ?? "" };
    if (t.kind === "name") {
      if (t.text === "true" || t.text === "false") return { kind: "const", value: t.text === "true" };
      if (t.text === "null") return { kind: "const", value: null };
      return { kind: "const", value: t.text };
    }
    if (t.text === "[") {
      const items: ValueNode[] = [];
      while (!this.eat("]")) items.push(this.value());
      return { kind: "list", items };
    }
    if (t.text === "{") {
      const fields: Record<string, ValueNode> = {};
      while (!this.eat("}")) {
        const name = this.expectName();
        this.expect(":");
        fields[name] = this.value();
      }
      return { kind: "object", fields };
    }
    throw new GraphqlSyntaxError(`Unexpected "${t.text}"`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }
  private next(): Token {
    const t = this.tokens[this.pos++];
    if (!t) throw new GraphqlSyntaxError("Unexpected end of document");
    return t;
  }
  private eat(punct: string): boolean {
    const t = this.peek();
    if (t?.kind === "punct" && t.text === punct) {
      this.pos++;
      return true;
    }
    return false;
  }
  private expect(punct: string): void {
    if (!this.eat(punct)) throw new GraphqlSyntaxError(`Expected "${punct}", found "${this.peek()?.text ?? "end"}"`);
  }
  private expectName(): string {
    const t = this.next();
    if (t.kind !== "name") throw new GraphqlSyntaxError(`Expected a name, found "${t.text}"`);
    return t.text;
  }
}

export function parseOperation(source: string): OperationNode {
  return new Parser(tokenize(source)).document();
}

export function resolveValue(v: ValueNode, vars: Record<string, Json>): Json {
  switch (v.kind) {
    case "const":
      return v.value;
    case "var":
      return vars[v.name] ?? null;
    case "list":
      return v.items.map((i) => resolveValue(i, vars));
    case "object":
      return Object.fromEntries(Object.entries(v.fields).map(([k, f]) => [k, resolveValue(f, vars)]));
  }
}

export function argsOf(field: FieldNode, vars: Record<string, Json>): Record<string, Json> {
  return Object.fromEntries(Object.entries(field.args).map(([k, v]) => [k, resolveValue(v, vars)]));
}

function pageSize(field: FieldNode, vars: Record<string, Json>): number | null {
  const a = argsOf(field, vars);
  const n = a.first ?? a.last;
  return typeof n === "number" ? n : null;
}

/** The fields a connection's items are resolved with: `nodes { … }` or `edges { node { … } }`. */
function nodeSelections(connection: FieldNode): FieldNode[] {
  const out: FieldNode[] = [];
  for (const f of connection.selections ?? []) {
    if (f.name === "nodes") out.push(...(f.selections ?? []));
    if (f.name === "edges")
      for (const e of f.selections ?? []) if (e.name === "node") out.push(...(e.selections ?? []));
  }
  return out;
}

/** Shopify's requested cost: computed from the query alone, sizing connections by first/last. */
export function requestedCost(op: OperationNode, vars: Record<string, Json>): number {
  if (op.type === "mutation") return 10 * op.selections.length;
  const cost = (fields: FieldNode[]): number => {
    let sum = 0;
    for (const f of fields) {
      if (!f.selections || f.name === "pageInfo" || f.name.startsWith("__")) continue;
      const size = pageSize(f, vars);
      if (size !== null) sum += 2 + size * (1 + cost(nodeSelections(f)));
      else sum += 1 + cost(f.selections);
    }
    return sum;
  };
  return cost(op.selections);
}

/** A page of a connection, as a root resolver returns it. */
export class Connection {
  constructor(
    readonly items: readonly unknown[],
    readonly cursors: readonly string[],
    readonly hasNextPage: boolean,
    readonly hasPreviousPage: boolean,
  ) {}
}

/** Cursor pagination over a list: opaque base64 cursors that encode the item's position. */
export function paginate(items: readonly unknown[], args: Record<string, Json>): Connection {
  const decode = (c: Json): number | null => {
    if (typeof c !== "string") return null;
    const n = Number(atob(c).replace(/^cursor:/, ""));
    return Number.isInteger(n) ? n : null;
  };
  const after = decode(args.after ?? null);
  const before = decode(args.before ?? null);
  let start = after === null ? 0 : after + 1;
  let end = before === null ? items.length : before;
  const first = typeof args.first === "number" ? args.first : null;
  const last = typeof args.last === "number" ? args.last : null;
  if (first !== null) end = Math.min(end, start + first);
  if (last !== null) start = Math.max(start, end - last);
  const page = items.slice(start, end);
  const cursors = page.map((_, i) => btoa(`cursor:${start + i}`));
  return new Connection(page, cursors, end < items.length, start > 0);
}

export type Resolver = (args: Record<string, Json>) => unknown;

export interface ExecResult {
  data: Record<string, Json>;
  actualCost: number;
}

/**
 * Resolves a selection set against plain objects. A property that is a function is
 * called with the field's arguments; an array selected with first/last is paginated.
 * The actual cost counts what was really returned, so it is at most the requested cost.
 */
export function execute(op: OperationNode, root: Record<string, unknown>, vars: Record<string, Json>): ExecResult {
  const merged = { ...op.defaults, ...vars };
  let cost = 0;
  const isMutation = op.type === "mutation";

  const resolveObject = (source: unknown, fields: FieldNode[]): Record<string, Json> => {
    const out: Record<string, Json> = {};
    for (const f of fields) out[f.alias] = resolveField(source, f);
    return out;
  };

  const resolveField = (source: unknown, f: FieldNode): Json => {
    if (f.name === "__typename") return typeof source === "object" && source ? "Object" : null;
    let value = typeof source === "object" && source !== null ? (source as Record<string, unknown>)[f.name] : undefined;
    const args = argsOf(f, merged);
    if (typeof value === "function") value = (value as Resolver)(args);
    if (value === undefined || value === null) return null;
    if (!f.selections) return toJson(value);
    const size = pageSize(f, merged);
    if (Array.isArray(value) && size !== null) value = paginate(value, args);
    if (value instanceof Connection) return resolveConnection(value, f);
    if (Array.isArray(value)) return value.map((v) => resolveNested(v, f.selections as FieldNode[]));
    return resolveNested(value, f.selections);
  };

  const resolveNested = (value: unknown, fields: FieldNode[]): Json => {
    if (value === null || value === undefined) return null;
    if (!isMutation) cost += 1;
    return resolveObject(value, fields);
  };

  const resolveConnection = (conn: Connection, f: FieldNode): Json => {
    if (!isMutation) cost += 2;
    const nodes = conn.items.map((item) => resolveNested(item, nodeSelections(f)));
    const out: Record<string, Json> = {};
    for (const s of f.selections ?? []) {
      if (s.name === "nodes") out[s.alias] = nodes;
      else if (s.name === "edges") {
        out[s.alias] = conn.items.map((_, i) => {
          const edge: Record<string, Json> = {};
          for (const e of s.selections ?? []) {
            if (e.name === "node") edge[e.alias] = nodes[i] ?? null;
            if (e.name === "cursor") edge[e.alias] = conn.cursors[i] ?? null;
          }
          return edge;
        });
      } else if (s.name === "pageInfo") {
        const info: Record<string, Json> = {
          hasNextPage: conn.hasNextPage,
          hasPreviousPage: conn.hasPreviousPage,
          startCursor: conn.cursors[0] ?? null,
          endCursor: conn.cursors[conn.cursors.length - 1] ?? null,
        };
        out[s.alias] = Object.fromEntries((s.selections ?? []).map((p) => [p.alias, info[p.name] ?? null]));
      }
    }
    return out;
  };

  const data = resolveObject(root, op.selections);
  if (isMutation) cost = 10 * op.selections.length;
  return { data, actualCost: cost };
}

function toJson(value: unknown): Json {
  if (value === null || typeof value === "string" || typeof value === "boolean" || typeof value === "number") {
    return value;
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toJson(v)]));
  }
  return null;
}

/**
 * Runs a bulk query over every item of its top-level connection and returns the
 * JSONL lines the way Shopify writes them without grouping: each node on its own
 * line, nested connection nodes as separate lines carrying `__parentId`.
 */
export function bulkLines(op: OperationNode, root: Record<string, unknown>): { parents: string[]; children: string[] } {
  const top = op.selections[0];
  if (!top || op.selections.length !== 1 || !top.selections) {
    throw new GraphqlSyntaxError("A bulk query selects exactly one top-level connection");
  }
  const args = argsOf(top, {});
  const resolved = (root as Record<string, unknown>)[top.name];
  // Without first/last a root resolver returns every matching item: a bulk query is not paged.
  const all = typeof resolved === "function" ? (resolved as Resolver)(args) : null;
  if (!(all instanceof Connection)) throw new GraphqlSyntaxError(`"${top.name}" is not a connection`);
  const parents: string[] = [];
  const children: string[] = [];
  const emit = (item: unknown, fields: FieldNode[], parentId: string | null, into: string[]) => {
    const plain = fields.filter((f) => !isConnectionSelection(f));
    const line: Record<string, Json> = {};
    const single = execute({ type: "query", selections: plain, defaults: {} }, item as Record<string, unknown>, {});
    Object.assign(line, single.data);
    if (parentId !== null) line.__parentId = parentId;
    into.push(JSON.stringify(line));
    const id = typeof line.id === "string" ? line.id : null;
    for (const f of fields.filter(isConnectionSelection)) {
      const value = (item as Record<string, unknown>)[f.name];
      const list = Array.isArray(value) ? value : [];
      for (const child of list) emit(child, nodeSelections(f), id, children);
    }
  };
  for (const item of all.items) emit(item, nodeSelections(top), null, parents);
  return { parents, children };
}

function isConnectionSelection(f: FieldNode): boolean {
  return (f.selections ?? []).some((s) => s.name === "edges" || s.name === "nodes");
}
