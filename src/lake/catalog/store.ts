/**
 * Where an Iceberg table's current metadata lives, behind one interface: an Iceberg REST catalog
 * (R2 Data Catalog, ./rest.ts) or the lake bucket by path. A writer loads the table, builds its
 * change against what it loaded, and commits it with requirements the store checks atomically;
 * when another writer committed first, `commitWithRetry` reloads and builds again. The trade-off:
 * optimistic concurrency costs a rebuild per lost race (new manifests, new sequence number), but no
 * store holds a lock, so a writer that dies mid-commit blocks nobody.
 */
import {
  CommitConflictError,
  type IcebergSchema,
  type TableMetadata,
  type TableRequirement,
  type TableUpdate,
} from "../iceberg";

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
