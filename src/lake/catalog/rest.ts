/**
 * The TableStore that commits through an Iceberg REST catalog (R2 Data Catalog), per the Iceberg
 * REST OpenAPI spec: `GET /v1/config` once for the path prefix, then namespaces, tables and commits
 * under `/v1/{prefix}/`, a bearer token on each request, every answer parsed with zod. The catalog
 * checks a commit's requirements and writes the new metadata file itself, so this client writes no
 * metadata; the caller writes data files and manifests first, under the table's `location`.
 *
 * Trade-offs. A table is created without a `location`: a catalog that manages its warehouse (R2
 * Data Catalog does) may refuse one outside it, so the location is the one the catalog chose, read
 * back from the metadata. A commit the catalog may have applied without saying so (any 5xx, a
 * timeout, a broken connection, an unreadable 200) is a CommitStateUnknownError, never retried
 * here: retrying could apply it twice, so the caller reloads and looks for its snapshot. Table
 * metadata is checked by the format code's parseTableMetadata, which refuses what this lake cannot
 * carry exactly (an int64 snapshot id past 2^53, written by another engine) rather than round it
 * into a requirement that would never hold.
 */
import { z } from "zod";
import { CommitConflictError, type IcebergSchema, parseTableMetadata, TableMetadataError } from "../iceberg";
import type { LakeCatalogConfig } from "./config";
import { type LoadedTable, type TableChange, type TableRef, type TableStore, tableName } from "./store";

/** The catalog refused a request or answered something this client cannot read; `message` says what to do. */
export class CatalogError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    /** The Iceberg error type the catalog named (`NoSuchWarehouseException`, …), when it named one. */
    readonly errorType: string | null = null,
  ) {
    super(message);
    this.name = "CatalogError";
  }
}

/** A commit was sent and may or may not have landed: reload the table and look for the snapshot before building again. */
export class CommitStateUnknownError extends Error {
  constructor(
    readonly ref: TableRef,
    readonly status: number | null,
    detail: string,
  ) {
    super(
      `The commit to ${tableName(ref)} may or may not have landed (${detail}): reload the table and check for ` +
        "the commit's snapshot before committing again; committing it twice would duplicate its rows.",
    );
    this.name = "CommitStateUnknownError";
  }
}

const TIMEOUT_MS = 30_000;

// ---- What the catalog answers (components of the OpenAPI document) -------------------------------

const StringMap = z.record(z.string(), z.string());

const CatalogConfigBody = z.object({
  defaults: StringMap.default({}),
  overrides: StringMap.default({}),
  endpoints: z.array(z.string()).optional(),
});

const ErrorBody = z.object({
  error: z.object({ message: z.string(), type: z.string(), code: z.number().int() }),
});

/** The metadata document itself is checked by parseTableMetadata (loaded() below). */
const LoadTableBody = z.object({
  "metadata-location": z.string().nullable().optional(),
  metadata: z.unknown(),
  config: StringMap.optional(),
});

const CommitTableBody = z.object({ "metadata-location": z.string(), metadata: z.unknown() });

// ---- The store ------------------------------------------------------------------------------------

type Method = "GET" | "POST";

export class RestCatalogStore implements TableStore {
  private prefix: Promise<string> | null = null;

  constructor(private readonly config: LakeCatalogConfig) {}

  async load(ref: TableRef): Promise<LoadedTable | null> {
    const res = await this.send("GET", await this.tablePath(ref));
    // NoSuchTableException or NoSuchNamespaceException: either way the table is not there.
    if (res.status === 404) return drained(res, null);
    if (res.status !== 200) throw await refusal(res, `loading ${tableName(ref)}`);
    return loaded(await readBody(res, LoadTableBody, `the table ${tableName(ref)}`), ref);
  }

  async create(
    ref: TableRef,
    init: { schema: IcebergSchema; location: string; properties: Record<string, string> },
  ): Promise<LoadedTable> {
    await this.ensureNamespace(ref.namespace);
    const body = { name: ref.name, schema: init.schema, properties: init.properties, "stage-create": false };
    const res = await this.send("POST", `${await this.namespacePath(ref.namespace)}/tables`, body);
    if (res.status === 409) {
      // Another writer created it first: the table that exists is the answer.
      await res.body?.cancel();
      const existing = await this.load(ref);
      if (existing !== null) return existing;
      throw new CatalogError(`The catalog says ${tableName(ref)} exists but cannot load it: try again.`, 409);
    }
    if (res.status !== 200) throw await refusal(res, `creating ${tableName(ref)}`);
    return loaded(await readBody(res, LoadTableBody, `the created table ${tableName(ref)}`), ref);
  }

  async commit(ref: TableRef, _base: LoadedTable, change: TableChange): Promise<LoadedTable> {
    const path = await this.tablePath(ref);
    const body = {
      identifier: { namespace: [...ref.namespace], name: ref.name },
      requirements: change.requirements,
      updates: change.updates,
    };
    let res: Response;
    try {
      res = await this.send("POST", path, body);
    } catch (err) {
      throw new CommitStateUnknownError(ref, null, `no answer: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (res.status === 409) {
      const error = await errorOf(res);
      throw new CommitConflictError(`Another commit to ${tableName(ref)} won: ${error.message}`);
    }
    if (res.status >= 500) {
      const error = await errorOf(res);
      throw new CommitStateUnknownError(ref, res.status, `HTTP ${res.status} ${error.type}: ${error.message}`);
    }
    if (res.status !== 200) throw await refusal(res, `committing to ${tableName(ref)}`);
    try {
      return loaded(await readBody(res, CommitTableBody, `the commit to ${tableName(ref)}`), ref);
    } catch (err) {
      throw new CommitStateUnknownError(ref, 200, `it answered 200 with ${(err as Error).message}`);
    }
  }

  private async ensureNamespace(namespace: readonly string[]): Promise<void> {
    const path = await this.namespacePath(namespace);
    const found = await this.send("GET", path);
    if (found.status === 200) return drained(found, undefined);
    if (found.status !== 404) throw await refusal(found, `looking up the namespace ${namespace.join(".")}`);
    await found.body?.cancel();
    const created = await this.send("POST", `${await this.catalogPath()}/namespaces`, {
      namespace: [...namespace],
      properties: {},
    });
    // 409: created meanwhile by another writer, which is as good.
    if (created.status === 200 || created.status === 409) return drained(created, undefined);
    throw await refusal(created, `creating the namespace ${namespace.join(".")}`);
  }

  /** `v1/{prefix}`, the prefix learned once from `GET /v1/config` (retried on the next call if that failed). */
  private catalogPath(): Promise<string> {
    this.prefix ??= this.readPrefix().catch((err: unknown) => {
      this.prefix = null;
      throw err;
    });
    return this.prefix.then((prefix) => (prefix === "" ? "v1" : `v1/${prefix}`));
  }

  private async readPrefix(): Promise<string> {
    const res = await this.send("GET", `v1/config?warehouse=${encodeURIComponent(this.config.warehouse)}`);
    if (res.status === 404) {
      const error = await errorOf(res);
      throw new CatalogError(
        `The catalog has no warehouse "${this.config.warehouse}" (${error.message}): set LAKE_CATALOG_WAREHOUSE to the ` +
          "Warehouse `npx wrangler r2 bucket catalog get <bucket>` prints, on a bucket with the catalog enabled.",
        404,
        error.type,
      );
    }
    if (res.status !== 200) throw await refusal(res, "reading the catalog's configuration");
    const config = await readBody(res, CatalogConfigBody, "the catalog's configuration");
    // Overrides win over defaults; the prefix goes into paths as the catalog sent it, as Iceberg's clients do.
    return (config.overrides.prefix ?? config.defaults.prefix ?? "").replace(/^\/+|\/+$/g, "");
  }

  private async namespacePath(namespace: readonly string[]): Promise<string> {
    if (namespace.length === 0) throw new CatalogError("An Iceberg table needs a namespace of one part or more.", null);
    // Multi-part namespaces are joined by the unit separator 0x1F, which the spec has every server accept.
    return `${await this.catalogPath()}/namespaces/${namespace.map(encodeURIComponent).join("%1F")}`;
  }

  private async tablePath(ref: TableRef): Promise<string> {
    return `${await this.namespacePath(ref.namespace)}/tables/${encodeURIComponent(ref.name)}`;
  }

  private send(method: Method, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.config.token}`,
      Accept: "application/json",
    };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(`${this.config.uri}/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  }
}

// ---- Answers --------------------------------------------------------------------------------------

function loaded(body: { "metadata-location"?: string | null; metadata: unknown }, ref: TableRef): LoadedTable {
  try {
    return { metadata: parseTableMetadata(body.metadata), metadataLocation: body["metadata-location"] ?? null };
  } catch (err) {
    if (!(err instanceof TableMetadataError)) throw err;
    throw new CatalogError(
      `The catalog's metadata for ${tableName(ref)} is not a table this lake can write (${err.issues.slice(0, 5).join("; ")}). ` +
        "Another engine changed it past what the lake writes: restore its previous metadata, or stop that engine writing to it.",
      null,
    );
  }
}

async function drained<T>(res: Response, value: T): Promise<T> {
  await res.body?.cancel();
  return value;
}

async function readBody<T>(res: Response, schema: z.ZodType<T>, what: string): Promise<T> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CatalogError(`The catalog's answer for ${what} is not JSON: ${text.slice(0, 120)}`, res.status);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`);
    throw new CatalogError(
      `The catalog's answer for ${what} is not what the Iceberg REST spec describes (${issues.join("; ")}).`,
      res.status,
    );
  }
  return parsed.data;
}

/** The IcebergErrorResponse of a failed request, or what can be said of a body that is not one. */
async function errorOf(res: Response): Promise<{ message: string; type: string }> {
  const text = await res.text().catch(() => "");
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data.error;
  } catch {
    // Not JSON: a proxy's page, say.
  }
  return { message: text.slice(0, 200) || res.statusText, type: "unknown" };
}

/** A CatalogError for a request the catalog refused, saying what to do about it. */
async function refusal(res: Response, doing: string): Promise<CatalogError> {
  const error = await errorOf(res);
  const said = `HTTP ${res.status} ${error.type}: ${error.message}`;
  const next =
    res.status === 401 || res.status === 403 || res.status === 419
      ? "Replace LAKE_CATALOG_TOKEN with an R2 API token that has R2 Data Catalog and R2 Storage read and write " +
        "(`wrangler secret put LAKE_CATALOG_TOKEN`)."
      : res.status === 429 || res.status >= 500
        ? "The catalog is busy or down: the job tries again on its next run."
        : res.status === 400 || res.status === 406
          ? "The catalog refused the request itself: a bug in the lake's writer, which the message above locates."
          : "Check LAKE_CATALOG_URI and LAKE_CATALOG_WAREHOUSE against `npx wrangler r2 bucket catalog get <bucket>`.";
  return new CatalogError(`The catalog refused ${doing} (${said}). ${next}`, res.status, error.type);
}
