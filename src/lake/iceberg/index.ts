/**
 * The Apache Iceberg v2 table format as the lake writes it: pure, I/O-free code shared by the R2
 * by-path store and the REST catalog store (which do the reading, writing and committing). The
 * folder's one door; see each module's header for what it decides.
 */
export { type AvroCodecs, type AvroRecord, type AvroType, type AvroValue, readContainer, writeContainer } from "./avro";
export { type BoundValue, boundBytes, compareStrings, truncateLower, truncateUpper } from "./bounds";
export {
  AvroError,
  CommitConflictError,
  InvalidUpdateError,
  ManifestError,
  SchemaEvolutionError,
  TableMetadataError,
} from "./errors";
export { expireSnapshots, type SnapshotFiles, unreferencedFiles } from "./expire";
export { decodeManifest, encodeManifest, type Inherited, MANIFEST_ENTRY_SCHEMA } from "./manifest";
export { decodeManifestList, encodeManifestList, MANIFEST_FILE_SCHEMA, manifestFileFor } from "./manifest-list";
export { currentSnapshot, newSnapshot, newTableMetadata, snapshotIdFromBytes } from "./metadata";
export { parseTableMetadata } from "./parse";
export { checkRequirements } from "./requirements";
export { currentSchema, icebergType, type LakeColumnKind, type SchemaColumn, schemaFor } from "./schema";
export { snapshotSummary } from "./summary";
export type * from "./types";
export { applyUpdates } from "./updates";
