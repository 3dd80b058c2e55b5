/**
 * Where an Iceberg table's current metadata lives, behind one interface: an Iceberg REST catalog
 * (R2 Data Catalog, ./rest.ts) or the lake bucket by path. A writer loads the table, builds its
 * change against what it loaded, and commits it with requirements the store checks atomically;
 * when another writer committed first, `commitWithRetry` reloads and builds again. The trade-off:
 * optimistic concurrency costs a rebuild per lost race (new manifests, new sequence number), but no
 * store holds a lock, so a writer that dies mid-commit blocks nobody.
 */

// Until the table format (src/lake/iceberg) lands, the few of its types the stores exchange are
// declared here, shaped as the Iceberg JSON documents so that switching is an import change.

/** An Iceberg schema (a struct type with an id), as in table metadata JSON. */
export interface IcebergSchema {
  type: "struct";
  "schema-id": number;
  fields: { id: number; name: string; required: boolean; type: unknown; doc?: string }[];
  "identifier-field-ids"?: number[];
}

export interface Snapshot {
  "snapshot-id": number;
  "parent-snapshot-id"?: number;
  "sequence-number": number;
  "timestamp-ms": number;
  "manifest-list": string;
  summary: { operation: "append" | "replace" | "overwrite" | "delete"; [key: string]: string };
  "schema-id"?: number;
}

export interface SnapshotRef {
  type: "branch" | "tag";
  "snapshot-id": number;
  "max-ref-age-ms"?: number;
  "max-snapshot-age-ms"?: number;
  "min-snapshots-to-keep"?: number;
}

/** Table metadata v2, as the metadata JSON file (and the catalog) carries it. */
export interface TableMetadata {
  "format-version": number;
  "table-uuid": string;
  location: string;
  "last-sequence-number": number;
  "last-updated-ms": number;
  "last-column-id": number;
  schemas: IcebergSchema[];
  "current-schema-id": number;
  "partition-specs": { "spec-id": number; fields: unknown[] }[];
  "default-spec-id": number;
  "last-partition-id": number;
  properties?: Record<string, string>;
  "current-snapshot-id"?: number | null;
  snapshots?: Snapshot[];
  refs?: Record<string, SnapshotRef>;
  "snapshot-log"?: { "snapshot-id": number; "timestamp-ms": number }[];
  "metadata-log"?: { "metadata-file": string; "timestamp-ms": number }[];
  "sort-orders": { "order-id": number; fields: unknown[] }[];
  "default-sort-order-id": number;
  [key: string]: unknown;
}

/** A commit's precondition (the Iceberg REST spec's TableRequirement). */
export type TableRequirement =
  | { type: "assert-create" }
  | { type: "assert-table-uuid"; uuid: string }
  | { type: "assert-ref-snapshot-id"; ref: string; "snapshot-id": number | null }
  | { type: "assert-last-assigned-field-id"; "last-assigned-field-id": number }
  | { type: "assert-current-schema-id"; "current-schema-id": number }
  | { type: "assert-last-assigned-partition-id"; "last-assigned-partition-id": number }
  | { type: "assert-default-spec-id"; "default-spec-id": number }
  | { type: "assert-default-sort-order-id"; "default-sort-order-id": number };

/** A change to table metadata (the Iceberg REST spec's TableUpdate), keyed by `action`. */
export type TableUpdate =
  | { action: "assign-uuid"; uuid: string }
  | { action: "upgrade-format-version"; "format-version": number }
  | { action: "add-schema"; schema: IcebergSchema }
  | { action: "set-current-schema"; "schema-id": number }
  | { action: "add-spec"; spec: { "spec-id"?: number; fields: unknown[] } }
  | { action: "set-default-spec"; "spec-id": number }
  | { action: "add-sort-order"; "sort-order": { "order-id": number; fields: unknown[] } }
  | { action: "set-default-sort-order"; "sort-order-id": number }
  | { action: "add-snapshot"; snapshot: Snapshot }
  | ({ action: "set-snapshot-ref"; "ref-name": string } & SnapshotRef)
  | { action: "remove-snapshots"; "snapshot-ids": number[] }
  | { action: "remove-snapshot-ref"; "ref-name": string }
  | { action: "set-location"; location: string }
  | { action: "set-properties"; updates: Record<string, string> }
  | { action: "remove-properties"; removals: string[] };

/** Another writer's commit won: the requirements no longer hold. Reload, rebuild, commit again. */
export class CommitConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommitConflictError";
  }
}

// ---- The stores' interface ----------------------------------------------------------------------

export interface TableRef {
  namespace: readonly string[];
  name: string;
}

export interface LoadedTable {
  metadata: TableMetadata;
  metadataLocation: string | null;
}

export interface TableChange {
  requirements: TableRequirement[];
  updates: TableUpdate[];
}

export interface TableStore {
  /** The table as committed now, or null when it does not exist. */
  load(ref: TableRef): Promise<LoadedTable | null>;
  /** Creates the table (namespace too when missing); `location` is a hint a catalog may ignore. */
  create(
    ref: TableRef,
    init: { schema: IcebergSchema; location: string; properties: Record<string, string> },
  ): Promise<LoadedTable>;
  /** Applies `updates` atomically if every requirement holds; throws CommitConflictError when another commit won (HTTP 409). */
  commit(ref: TableRef, base: LoadedTable, change: TableChange): Promise<LoadedTable>;
}

/** `commitWithRetry` was asked to change a table that does not exist. */
export class TableNotFoundError extends Error {
  constructor(readonly ref: TableRef) {
    super(`Iceberg table ${tableName(ref)} does not exist: create it (TableStore.create) before committing to it.`);
    this.name = "TableNotFoundError";
  }
}

export function tableName(ref: TableRef): string {
  return [...ref.namespace, ref.name].join(".");
}

/** First wait after a lost race; it doubles per attempt, plus up to as much again of jitter. */
const RETRY_BASE_MS = 50;

/**
 * Loads, builds and commits; on a conflict reloads and rebuilds (the build must be re-runnable: new
 * sequence number, new manifests), up to `attempts`. A conflict past the last attempt is thrown,
 * never swallowed. Any other error (a commit whose outcome is unknown among them) is thrown at once:
 * only a conflict proves the commit did not land.
 */
export async function commitWithRetry(
  store: TableStore,
  ref: TableRef,
  build: (base: LoadedTable) => Promise<TableChange>,
  attempts = 4,
): Promise<LoadedTable> {
  for (let attempt = 1; ; attempt++) {
    const base = await store.load(ref);
    if (base === null) throw new TableNotFoundError(ref);
    const change = await build(base);
    try {
      return await store.commit(ref, base, change);
    } catch (err) {
      if (!(err instanceof CommitConflictError) || attempt >= attempts) throw err;
      const wait = RETRY_BASE_MS * 2 ** (attempt - 1);
      await new Promise((resolve) => setTimeout(resolve, wait + Math.random() * wait));
    }
  }
}
