/**
 * The REST catalog's commit requirements, checked against the metadata a commit would replace:
 * the optimistic-concurrency half of a commit, shared by the R2 by-path store and the fake REST
 * catalog of the tests so both refuse a stale commit the same way. A failed requirement throws a
 * CommitConflictError naming it; the writer reloads and prepares its commit again. Pure.
 */
import { CommitConflictError } from "./errors";
import type { TableMetadata, TableRequirement } from "./types";

function conflict(requirement: TableRequirement, actual: unknown, expected: unknown): never {
  throw new CommitConflictError(
    `requirement ${requirement.type} failed: expected ${JSON.stringify(expected)}, the table has ${JSON.stringify(actual)}`,
    requirement.type,
  );
}

/** Throws a CommitConflictError for the first requirement `metadata` (null: no table yet) does not meet. */
export function checkRequirements(metadata: TableMetadata | null, requirements: readonly TableRequirement[]): void {
  for (const r of requirements) {
    if (r.type === "assert-create") {
      if (metadata !== null) conflict(r, "an existing table", "no table");
      continue;
    }
    if (metadata === null) {
      throw new CommitConflictError(`requirement ${r.type} failed: the table does not exist`, r.type);
    }
    switch (r.type) {
      case "assert-table-uuid":
        if (metadata["table-uuid"] !== r.uuid) conflict(r, metadata["table-uuid"], r.uuid);
        break;
      case "assert-ref-snapshot-id": {
        const actual = metadata.refs[r.ref]?.["snapshot-id"] ?? null;
        if (actual !== r["snapshot-id"]) conflict(r, actual, r["snapshot-id"]);
        break;
      }
      case "assert-last-assigned-field-id":
        if (metadata["last-column-id"] !== r["last-assigned-field-id"]) {
          conflict(r, metadata["last-column-id"], r["last-assigned-field-id"]);
        }
        break;
      case "assert-current-schema-id":
        if (metadata["current-schema-id"] !== r["current-schema-id"]) {
          conflict(r, metadata["current-schema-id"], r["current-schema-id"]);
        }
        break;
      case "assert-last-assigned-partition-id":
        if (metadata["last-partition-id"] !== r["last-assigned-partition-id"]) {
          conflict(r, metadata["last-partition-id"], r["last-assigned-partition-id"]);
        }
        break;
      case "assert-default-spec-id":
        if (metadata["default-spec-id"] !== r["default-spec-id"])
          conflict(r, metadata["default-spec-id"], r["default-spec-id"]);
        break;
      case "assert-default-sort-order-id":
        if (metadata["default-sort-order-id"] !== r["default-sort-order-id"]) {
          conflict(r, metadata["default-sort-order-id"], r["default-sort-order-id"]);
        }
        break;
    }
  }
}
