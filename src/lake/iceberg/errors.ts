/**
 * The typed errors of the Iceberg format code, one per way a document can be wrong, so an adapter
 * tells a lost race (CommitConflictError: reload and retry) from a bug or a foreign table (the
 * rest: stop and alert). Messages name the field or requirement at fault and carry no data values
 * beyond ids and paths.
 */

/** Bytes that are not an Avro object container file this code can read. */
export class AvroError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AvroError";
  }
}

/** A manifest or manifest list the spec (or this lake) does not allow, on write or on read. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

/** A column change Iceberg cannot express without losing data (a type change). */
export class SchemaEvolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaEvolutionError";
  }
}

/** A metadata JSON document that is not valid v2 table metadata; `issues` name each bad field. */
export class TableMetadataError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`invalid Iceberg table metadata: ${issues.join("; ")}`);
    this.name = "TableMetadataError";
  }
}

/** An update the table cannot take whatever its state (unknown schema id, removing the current snapshot). */
export class InvalidUpdateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidUpdateError";
  }
}

/**
 * The table moved since the commit was prepared: a requirement failed, or the snapshot's sequence
 * number or id is taken. Reload the metadata and prepare the commit again.
 */
export class CommitConflictError extends Error {
  constructor(
    message: string,
    /** The requirement type that failed, `add-snapshot` for a stale snapshot, or `commit` for a store's own check. */
    readonly failed = "commit",
  ) {
    super(message);
    this.name = "CommitConflictError";
  }
}
