/**
 * A fake Iceberg REST catalog, shaped like R2 Data Catalog: `GET /v1/config?warehouse=` answers
 * the path prefix, then namespaces (get, head, create), tables (load, head, create) and commits
 * under `/v1/{prefix}/`, behind a bearer token. Every request body and every answer it gives is
 * checked against the vendored OpenAPI document (test/helpers/iceberg-openapi.ts): a request that
 * does not match is refused 400 with the errors, and every mismatch, either way, is kept in
 * `validationErrors` for the test to assert empty. Tables are held in memory (metadata and its
 * location); as a real catalog does, each commit writes the new metadata JSON file to storage
 * through `writeFile` (the test's R2 bucket), so readers by path can follow.
 *
 * Commits are checked and applied by the format code's checkRequirements and applyUpdates, the
 * rules the by-path store applies too. Races are staged, not timed: `raceNextCommit` lands another writer's commit just before
 * the client's next one, which then fails its requirement and gets 409 as it would in production;
 * `failNextCommit` answers a commit 5xx after (or without) applying it. No vitest imports.
 */
import type { LoadedTable, TableRef } from "../../src/lake/catalog/store";
import {
  applyUpdates,
  CommitConflictError,
  checkRequirements,
  type IcebergSchema,
  InvalidUpdateError,
  newTableMetadata,
  type TableMetadata,
  type TableRequirement,
  type TableUpdate,
} from "../../src/lake/iceberg";
import { validateSchema } from "../helpers/iceberg-openapi";

export interface RecordedRequest {
  method: string;
  /** Path and query as sent (the namespace still `%1F`-joined). */
  path: string;
  body: unknown;
  status: number;
}

export interface FakeCatalogOptions {
  /** The catalog URI the client is configured with. */
  uri?: string;
  warehouse?: string;
  token?: string;
  /** The `prefix` the config route answers (R2 Data Catalog's is its own id, not the warehouse name). */
  prefix?: string;
  /** Where tables go when a create names no location. */
  storageRoot?: string;
  /** Writes a metadata file where the catalog would (a real catalog writes it to the warehouse's storage). */
  writeFile?: (location: string, text: string) => Promise<void>;
  now?: () => number;
}

interface StoredTable {
  metadata: TableMetadata;
  metadataLocation: string;
  version: number;
}

type Race = (current: LoadedTable, index: number) => TableUpdate[];

interface IcebergError {
  status: number;
  type: string;
  message: string;
}

const fail = (status: number, type: string, message: string): IcebergError => ({ status, type, message });

export class FakeIcebergCatalog {
  readonly uri: string;
  readonly warehouse: string;
  readonly token: string;
  readonly prefix: string;
  readonly requests: RecordedRequest[] = [];
  /** Every way a request or an answer departed from the OpenAPI document, `request …`/`response …`. */
  readonly validationErrors: string[] = [];
  readonly namespaces = new Map<string, Record<string, string>>();
  private readonly tables = new Map<string, StoredTable>();
  private readonly races = new Map<string, { left: number; done: number; other: Race }>();
  private readonly failures = new Map<string, { status: 500 | 502 | 504; land: boolean }>();
  private readonly storageRoot: string;
  private readonly writeFile: (location: string, text: string) => Promise<void>;
  private readonly now: () => number;

  constructor(options: FakeCatalogOptions = {}) {
    this.uri = (options.uri ?? "https://catalog.iceberg.test/0123abcd/lake-test").replace(/\/+$/, "");
    this.warehouse = options.warehouse ?? "0123abcd_lake-test";
    this.token = options.token ?? "catalog-test-token";
    this.prefix = options.prefix ?? "2f9c41e0-warehouse";
    this.storageRoot = options.storageRoot ?? "s3://lake-test/__catalog";
    this.writeFile = options.writeFile ?? (async () => {});
    this.now = options.now ?? Date.now;
  }

  /** The table as the catalog holds it now (for assertions), or null. */
  table(ref: TableRef): LoadedTable | null {
    const t = this.tables.get(key(ref.namespace, ref.name));
    return t === undefined ? null : { metadata: structuredClone(t.metadata), metadataLocation: t.metadataLocation };
  }

  /**
   * The next `times` commits to `ref` each lose a race: just before each, another writer's commit
   * of `other(current)` lands (with no requirements, as if it had loaded the table that instant).
   */
  raceNextCommit(ref: TableRef, other: Race, times = 1): void {
    this.races.set(key(ref.namespace, ref.name), { left: times, done: 0, other });
  }

  /** The next commit to `ref` is answered `status` (CommitStateUnknownException), after applying it when `land`. */
  failNextCommit(ref: TableRef, status: 500 | 502 | 504, { land }: { land: boolean }): void {
    this.failures.set(key(ref.namespace, ref.name), { status, land });
  }

  serves(url: URL): boolean {
    const base = new URL(this.uri);
    return url.origin === base.origin && url.pathname.startsWith(`${base.pathname}/`);
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname.slice(new URL(this.uri).pathname.length);
    const text = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
    const record: RecordedRequest = { method: request.method, path: `${path}${url.search}`, body: null, status: 0 };
    this.requests.push(record);
    const answer = await this.answer(request, url, path, text, record);
    record.status = answer.status;
    return answer;
  }

  private async answer(request: Request, url: URL, path: string, text: string, record: RecordedRequest) {
    const where = `${request.method} ${path}`;
    if (request.headers.get("authorization") !== `Bearer ${this.token}`) {
      return this.error(where, fail(401, "NotAuthorizedException", "Not authorized: bad or missing bearer token"));
    }
    if (text !== "") {
      try {
        record.body = JSON.parse(text);
      } catch {
        return this.error(where, fail(400, "BadRequestException", "Malformed request: the body is not JSON"));
      }
    }
    const route = this.route(request.method, path);
    if (route === null) {
      this.validationErrors.push(`request ${where}: not a route of the spec this fake serves`);
      return this.error(where, fail(404, "NoSuchEndpointException", `No route for ${where}`));
    }
    if (route.body !== undefined) {
      const errors = validateSchema(route.body, record.body);
      if (errors.length > 0) {
        this.validationErrors.push(...errors.map((e) => `request ${where} (${route.body}) ${e}`));
        return this.error(where, fail(400, "BadRequestException", `Malformed ${route.body}: ${errors.join("; ")}`));
      }
    }
    const result = await route.run(record.body, url);
    if ("type" in result) return this.error(where, result);
    if (result.schema !== undefined) {
      const errors = validateSchema(result.schema, result.body);
      this.validationErrors.push(...errors.map((e) => `response ${where} (${result.schema}) ${e}`));
    }
    if (result.body === undefined || request.method === "HEAD") return new Response(null, { status: result.status });
    return Response.json(result.body, { status: result.status });
  }

  private error(where: string, e: IcebergError): Response {
    const body = { error: { message: e.message, type: e.type, code: e.status } };
    const errors = validateSchema("IcebergErrorResponse", body);
    this.validationErrors.push(...errors.map((x) => `response ${where} (IcebergErrorResponse) ${x}`));
    return Response.json(body, { status: e.status });
  }

  // ---- Routes -----------------------------------------------------------------------------------

  private route(method: string, path: string): Route | null {
    if (path === "/v1/config") return method === "GET" ? { run: (_, url) => this.config(url) } : null;
    const scoped = `/v1/${this.prefix}/namespaces`;
    if (path === scoped) {
      return method === "POST" ? { body: "CreateNamespaceRequest", run: (b) => this.createNamespace(b) } : null;
    }
    if (!path.startsWith(`${scoped}/`)) return null;
    const [nsPart, tablesPart, tablePart, ...rest] = path.slice(scoped.length + 1).split("/");
    if (nsPart === undefined || rest.length > 0) return null;
    const namespace = decodeURIComponent(nsPart).split("\u001f");
    if (tablesPart === undefined) {
      if (method === "GET" || method === "HEAD") return { run: async () => this.loadNamespace(namespace) };
      return null;
    }
    if (tablesPart !== "tables") return null;
    if (tablePart === undefined) {
      return method === "POST" ? { body: "CreateTableRequest", run: (b) => this.createTable(namespace, b) } : null;
    }
    const name = decodeURIComponent(tablePart);
    if (method === "GET" || method === "HEAD") return { run: async () => this.loadTable(namespace, name) };
    if (method === "POST") return { body: "CommitTableRequest", run: (b) => this.commit(namespace, name, b) };
    return null;
  }

  private async config(url: URL): Promise<Answer> {
    const warehouse = url.searchParams.get("warehouse");
    if (warehouse !== this.warehouse) {
      return fail(404, "NoSuchWarehouseException", `Warehouse ${warehouse ?? "(none)"} does not exist`);
    }
    return ok("CatalogConfig", { defaults: {}, overrides: { prefix: this.prefix } });
  }

  private async createNamespace(body: unknown): Promise<Answer> {
    const { namespace, properties = {} } = body as { namespace: string[]; properties?: Record<string, string> };
    const k = namespace.join("\u001f");
    if (this.namespaces.has(k)) return fail(409, "AlreadyExistsException", `Namespace ${namespace.join(".")} exists`);
    this.namespaces.set(k, properties);
    return ok("CreateNamespaceResponse", { namespace, properties });
  }

  private loadNamespace(namespace: string[]): Answer {
    const properties = this.namespaces.get(namespace.join("\u001f"));
    if (properties === undefined) return noSuchNamespace(namespace);
    return ok("GetNamespaceResponse", { namespace, properties });
  }

  private loadTable(namespace: string[], name: string): Answer {
    const t = this.tables.get(key(namespace, name));
    if (t === undefined)
      return fail(404, "NoSuchTableException", `Table ${[...namespace, name].join(".")} does not exist`);
    return ok("LoadTableResult", { "metadata-location": t.metadataLocation, metadata: t.metadata, config: {} });
  }

  private async createTable(namespace: string[], body: unknown): Promise<Answer> {
    const request = body as {
      name: string;
      location?: string;
      schema: IcebergSchema;
      properties?: Record<string, string>;
    };
    if ((body as { "stage-create"?: boolean })["stage-create"] === true) {
      return fail(406, "UnsupportedOperationException", "The fake catalog does not stage creates");
    }
    if (!this.namespaces.has(namespace.join("\u001f"))) return noSuchNamespace(namespace);
    const k = key(namespace, request.name);
    if (this.tables.has(k)) return fail(409, "AlreadyExistsException", `Table ${request.name} exists`);
    const tableUuid = crypto.randomUUID();
    const metadata = newTableMetadata({
      location:
        request.location ?? `${this.storageRoot}/${namespace.join("/")}/${request.name}-${tableUuid.slice(0, 8)}`,
      tableUuid,
      schema: { ...request.schema, "schema-id": 0 },
      lastColumnId: maxFieldId(request.schema.fields),
      properties: request.properties ?? {},
      nowMs: this.now(),
    });
    const stored = await this.store(k, metadata, 0);
    return ok("LoadTableResult", { "metadata-location": stored.metadataLocation, metadata, config: {} });
  }

  private async commit(namespace: string[], name: string, body: unknown): Promise<Answer> {
    const request = body as {
      identifier?: { namespace: string[]; name: string };
      requirements: TableRequirement[];
      updates: TableUpdate[];
    };
    const k = key(namespace, name);
    if (request.identifier !== undefined && key(request.identifier.namespace, request.identifier.name) !== k) {
      return fail(400, "BadRequestException", "The identifier in the body is not the table in the path");
    }
    await this.runRace(k);
    const current = this.tables.get(k);
    if (current === undefined)
      return fail(404, "NoSuchTableException", `Table ${[...namespace, name].join(".")} does not exist`);
    let next: TableMetadata;
    try {
      checkRequirements(current.metadata, request.requirements);
      next = applyUpdates(current.metadata, request.updates, {
        nowMs: this.now(),
        previousMetadataLocation: current.metadataLocation,
      });
    } catch (err) {
      if (err instanceof CommitConflictError) return fail(409, "CommitFailedException", err.message);
      if (err instanceof InvalidUpdateError) return fail(400, "ValidationException", err.message);
      throw err;
    }
    const failure = this.failures.get(k);
    this.failures.delete(k);
    if (failure !== undefined) {
      if (failure.land) await this.store(k, next, current.version + 1);
      return fail(failure.status, "CommitStateUnknownException", "Service failed during commit");
    }
    const stored = await this.store(k, next, current.version + 1);
    return ok("CommitTableResponse", { "metadata-location": stored.metadataLocation, metadata: next });
  }

  /** Lands the staged other writer's commit, if one waits for this table. */
  private async runRace(k: string): Promise<void> {
    const race = this.races.get(k);
    const current = this.tables.get(k);
    if (race === undefined || current === undefined) return;
    if (--race.left <= 0) this.races.delete(k);
    const updates = race.other(
      { metadata: structuredClone(current.metadata), metadataLocation: current.metadataLocation },
      race.done++,
    );
    const next = applyUpdates(current.metadata, updates, {
      nowMs: this.now(),
      previousMetadataLocation: current.metadataLocation,
    });
    await this.store(k, next, current.version + 1);
  }

  /** Writes the metadata file, then makes it the table's current one (a real catalog's order). */
  private async store(k: string, metadata: TableMetadata, version: number): Promise<StoredTable> {
    const metadataLocation = `${metadata.location}/metadata/${String(version).padStart(5, "0")}-${crypto.randomUUID()}.metadata.json`;
    await this.writeFile(metadataLocation, JSON.stringify(metadata));
    const stored = { metadata, metadataLocation, version };
    this.tables.set(k, stored);
    return stored;
  }
}

type Answer = IcebergError | { status: number; schema?: string; body?: unknown };

interface Route {
  /** The component the request body must match, when it has one. */
  body?: string;
  run(body: unknown, url: URL): Promise<Answer> | Answer;
}

const ok = (schema: string, body: unknown): Answer => ({ status: 200, schema, body });
const key = (namespace: readonly string[], name: string) => `${namespace.join("\u001f")}\u0000${name}`;
const noSuchNamespace = (namespace: readonly string[]) =>
  fail(404, "NoSuchNamespaceException", `Namespace ${namespace.join(".")} does not exist`);

function maxFieldId(fields: readonly { id: number }[]): number {
  return fields.reduce((max, f) => Math.max(max, f.id), 0);
}
