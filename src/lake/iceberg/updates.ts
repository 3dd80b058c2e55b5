/**
 * Applies REST catalog updates to table metadata as a catalog does (Java's
 * TableMetadata.Builder is the model): an added snapshot must take the next sequence number,
 * moving the main branch sets current-snapshot-id and appends to the snapshot log, an
 * equivalent schema, spec or sort order is reused instead of duplicated, `-1` means "the one
 * added in this commit", and the replaced metadata file joins the metadata log (pruned to
 * `write.metadata.previous-versions-max`, default 100). Shared by the R2 by-path store and the fake
 * REST catalog. Pure: time and the previous location come from the caller, and the input is not
 * mutated. Trade-off: unlike Java, removing the main branch or the snapshot it points to is
 * refused (InvalidUpdateError), since no job of this lake means to empty a table that way.
 */
import { CommitConflictError, InvalidUpdateError } from "./errors";
import type { IcebergSchema, PartitionSpec, SortOrder, TableMetadata, TableUpdate } from "./types";

const PREVIOUS_VERSIONS_MAX = 100;

function sameSchema(a: IcebergSchema, b: IcebergSchema): boolean {
  const shape = (s: IcebergSchema) =>
    JSON.stringify([s.fields.map((f) => [f.id, f.name, f.type, f.required]), s["identifier-field-ids"] ?? []]);
  return shape(a) === shape(b);
}

const sameFields = (a: readonly object[], b: readonly object[]) => JSON.stringify(a) === JSON.stringify(b);

function nextId(ids: readonly number[]): number {
  return ids.length === 0 ? 0 : Math.max(...ids) + 1;
}

interface Added {
  schemaId?: number;
  specId?: number;
  orderId?: number;
  snapshotIds: Set<number>;
}

function addSchema(m: TableMetadata, schema: IcebergSchema, lastColumnId: number | undefined, added: Added): void {
  const ids = schema.fields.map((f) => f.id);
  if (new Set(ids).size !== ids.length) throw new InvalidUpdateError("add-schema: field ids repeat");
  if (new Set(schema.fields.map((f) => f.name)).size !== ids.length)
    throw new InvalidUpdateError("add-schema: field names repeat");
  const highest = Math.max(0, ...ids);
  const last = lastColumnId ?? Math.max(m["last-column-id"], highest);
  if (last < m["last-column-id"]) {
    throw new InvalidUpdateError(`add-schema: last-column-id ${last} is below the table's ${m["last-column-id"]}`);
  }
  if (highest > last) throw new InvalidUpdateError(`add-schema: field id ${highest} is above last-column-id ${last}`);
  m["last-column-id"] = last;
  const existing = m.schemas.find((s) => sameSchema(s, schema));
  if (existing !== undefined) {
    added.schemaId = existing["schema-id"];
    return;
  }
  const schemaId = nextId(m.schemas.map((s) => s["schema-id"]));
  m.schemas.push({ ...schema, "schema-id": schemaId });
  added.schemaId = schemaId;
}

function addSpec(m: TableMetadata, spec: { fields: PartitionSpec["fields"] }, added: Added): void {
  const existing = m["partition-specs"].find((s) => sameFields(s.fields, spec.fields));
  if (existing !== undefined) {
    added.specId = existing["spec-id"];
    return;
  }
  const specId = nextId(m["partition-specs"].map((s) => s["spec-id"]));
  m["partition-specs"].push({ "spec-id": specId, fields: spec.fields });
  m["last-partition-id"] = Math.max(m["last-partition-id"], ...spec.fields.map((f) => f["field-id"]));
  added.specId = specId;
}

function addSortOrder(m: TableMetadata, order: SortOrder, added: Added): void {
  const existing = m["sort-orders"].find((o) => sameFields(o.fields, order.fields));
  if (existing !== undefined) {
    added.orderId = existing["order-id"];
    return;
  }
  // Order id 0 is reserved for the unsorted order, which always exists.
  const orderId = Math.max(1, nextId(m["sort-orders"].map((o) => o["order-id"])));
  m["sort-orders"].push({ "order-id": orderId, fields: order.fields });
  added.orderId = orderId;
}

function lastAdded(requested: number, lastId: number | undefined, what: string): number {
  if (requested !== -1) return requested;
  if (lastId === undefined) throw new InvalidUpdateError(`${what} -1: nothing was added in this commit`);
  return lastId;
}

function removeSnapshots(m: TableMetadata, ids: readonly number[]): void {
  const remove = new Set(ids);
  const current = m["current-snapshot-id"];
  if (current !== undefined && remove.has(current)) {
    throw new InvalidUpdateError(`remove-snapshots: snapshot ${current} is the current snapshot`);
  }
  m.snapshots = m.snapshots.filter((s) => !remove.has(s["snapshot-id"]));
  for (const [name, r] of Object.entries(m.refs)) {
    if (remove.has(r["snapshot-id"])) delete m.refs[name];
  }
  // As Java does: an entry for a removed snapshot drops the history before it too.
  const log: TableMetadata["snapshot-log"] = [];
  for (const entry of m["snapshot-log"]) {
    if (remove.has(entry["snapshot-id"])) log.length = 0;
    else log.push(entry);
  }
  m["snapshot-log"] = log;
}

function apply(m: TableMetadata, u: TableUpdate, added: Added, nowMs: number): void {
  switch (u.action) {
    case "assign-uuid":
      if (m["table-uuid"] !== u.uuid) throw new InvalidUpdateError("assign-uuid: a table's uuid cannot change");
      return;
    case "upgrade-format-version":
      if (u["format-version"] !== 2) {
        throw new InvalidUpdateError(
          `upgrade-format-version: only format version 2 is supported, not ${u["format-version"]}`,
        );
      }
      return;
    case "add-schema":
      addSchema(m, u.schema, u["last-column-id"], added);
      return;
    case "set-current-schema": {
      const schemaId = lastAdded(u["schema-id"], added.schemaId, "set-current-schema");
      if (!m.schemas.some((s) => s["schema-id"] === schemaId))
        throw new InvalidUpdateError(`set-current-schema: no schema ${schemaId}`);
      m["current-schema-id"] = schemaId;
      return;
    }
    case "add-spec":
      addSpec(m, u.spec, added);
      return;
    case "set-default-spec": {
      const specId = lastAdded(u["spec-id"], added.specId, "set-default-spec");
      if (!m["partition-specs"].some((s) => s["spec-id"] === specId))
        throw new InvalidUpdateError(`set-default-spec: no spec ${specId}`);
      m["default-spec-id"] = specId;
      return;
    }
    case "add-sort-order":
      addSortOrder(m, u["sort-order"], added);
      return;
    case "set-default-sort-order": {
      const orderId = lastAdded(u["sort-order-id"], added.orderId, "set-default-sort-order");
      if (!m["sort-orders"].some((o) => o["order-id"] === orderId)) {
        throw new InvalidUpdateError(`set-default-sort-order: no sort order ${orderId}`);
      }
      m["default-sort-order-id"] = orderId;
      return;
    }
    case "add-snapshot": {
      const s = u.snapshot;
      if (m.snapshots.some((t) => t["snapshot-id"] === s["snapshot-id"])) {
        throw new CommitConflictError(`snapshot ${s["snapshot-id"]} is already in the table`, "add-snapshot");
      }
      if (s["sequence-number"] !== m["last-sequence-number"] + 1) {
        throw new CommitConflictError(
          `snapshot ${s["snapshot-id"]} has sequence number ${s["sequence-number"]}, the table's next is ${m["last-sequence-number"] + 1}`,
          "add-snapshot",
        );
      }
      if (s["schema-id"] !== undefined && !m.schemas.some((t) => t["schema-id"] === s["schema-id"])) {
        throw new InvalidUpdateError(
          `add-snapshot: snapshot ${s["snapshot-id"]} names unknown schema ${s["schema-id"]}`,
        );
      }
      m.snapshots.push(structuredClone(s));
      m["last-sequence-number"] = s["sequence-number"];
      added.snapshotIds.add(s["snapshot-id"]);
      return;
    }
    case "set-snapshot-ref": {
      const { action: _, "ref-name": name, ...ref } = u;
      const snapshot = m.snapshots.find((s) => s["snapshot-id"] === ref["snapshot-id"]);
      if (snapshot === undefined) throw new InvalidUpdateError(`set-snapshot-ref: no snapshot ${ref["snapshot-id"]}`);
      if (name === "main" && ref.type !== "branch")
        throw new InvalidUpdateError("set-snapshot-ref: main must be a branch");
      const unchanged = m.refs[name]?.["snapshot-id"] === ref["snapshot-id"];
      m.refs = { ...m.refs, [name]: ref };
      if (name === "main" && !unchanged) {
        m["current-snapshot-id"] = ref["snapshot-id"];
        // A snapshot added in this commit is logged at its own time, as Java does.
        const at = added.snapshotIds.has(ref["snapshot-id"]) ? snapshot["timestamp-ms"] : nowMs;
        m["snapshot-log"].push({ "timestamp-ms": at, "snapshot-id": ref["snapshot-id"] });
      }
      return;
    }
    case "remove-snapshot-ref":
      if (u["ref-name"] === "main")
        throw new InvalidUpdateError("remove-snapshot-ref: the main branch cannot be removed");
      delete m.refs[u["ref-name"]];
      return;
    case "remove-snapshots":
      removeSnapshots(m, u["snapshot-ids"]);
      return;
    case "set-properties":
      m.properties = { ...m.properties, ...u.updates };
      return;
    case "remove-properties":
      m.properties = Object.fromEntries(Object.entries(m.properties).filter(([k]) => !u.removals.includes(k)));
      return;
    case "set-location":
      m.location = u.location.replace(/\/+$/, "");
      return;
    default: {
      const unknown: never = u;
      throw new InvalidUpdateError(`unknown update action ${JSON.stringify((unknown as { action: unknown }).action)}`);
    }
  }
}

/**
 * The metadata after `updates`, as the new metadata file of a commit that replaces the file at
 * `previousMetadataLocation` (null for a table's first file). Throws InvalidUpdateError for an
 * update the table cannot take, CommitConflictError for a snapshot prepared against older metadata.
 * No updates: the metadata is returned as it is (nothing to commit).
 */
export function applyUpdates(
  metadata: TableMetadata,
  updates: readonly TableUpdate[],
  o: { nowMs: number; previousMetadataLocation: string | null },
): TableMetadata {
  if (updates.length === 0) return metadata;
  const m = structuredClone(metadata);
  const added: Added = { snapshotIds: new Set() };
  for (const u of updates) apply(m, u, added, o.nowMs);
  m["last-updated-ms"] = o.nowMs;
  if (o.previousMetadataLocation !== null) {
    m["metadata-log"].push({
      "metadata-file": o.previousMetadataLocation,
      "timestamp-ms": metadata["last-updated-ms"],
    });
    const max = Number(m.properties["write.metadata.previous-versions-max"] ?? PREVIOUS_VERSIONS_MAX);
    const keep = Number.isSafeInteger(max) && max > 0 ? max : PREVIOUS_VERSIONS_MAX;
    if (m["metadata-log"].length > keep) m["metadata-log"] = m["metadata-log"].slice(-keep);
  }
  return m;
}
