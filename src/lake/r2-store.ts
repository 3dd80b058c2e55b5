/**
 * Iceberg tables committed by path in the lake bucket, for deployments without a catalog: each
 * table keeps `metadata/vN.metadata.json` and `metadata/version-hint.text` (the number N), the
 * layout DuckDB's `iceberg_scan` and PyIceberg's `StaticTable` read by path. A commit writes the
 * next metadata file whole, then points the hint at it: the hint's one PUT is the atomic switch,
 * so a reader sees the previous snapshot or the next, never a mix, and a run cut short before it
 * leaves no visible change. Requirements are checked against the table as stored now, with the
 * same pure rules a REST catalog applies (src/lake/iceberg). Trade-off: R2 has no compare-and-swap
 * on the hint, so two writers could race between the check and the PUT; the compact job's lease
 * (one run at a time) is what keeps writers single, and the metadata file is written only if absent.
 */

import type { LoadedTable, TableRef, TableStore } from "./catalog/store";
import { applyUpdates, CommitConflictError, checkRequirements, newTableMetadata, parseTableMetadata } from "./iceberg";
import type { LakeLocation } from "./location";

const HINT = "metadata/version-hint.text";

export class R2TableStore implements TableStore {
  constructor(
    private readonly bucket: R2Bucket,
    private readonly location: LakeLocation,
    private readonly now: () => number = Date.now,
  ) {}

  async load(ref: TableRef): Promise<LoadedTable | null> {
    const version = await this.version(ref);
    if (version === null) return null;
    const path = this.metadataPath(ref, version);
    const object = await this.bucket.get(this.location.keyOf(path));
    // A hint naming a file that is not there is a broken table, not a missing one: say so.
    if (object === null) throw new Error(`lake: ${path} is missing though ${HINT} names version ${version}`);
    const metadata = parseTableMetadata(await object.json());
    return { metadata, metadataLocation: path };
  }

  async create(
    ref: TableRef,
    init: {
      schema: Parameters<typeof newTableMetadata>[0]["schema"];
      location: string;
      properties: Record<string, string>;
    },
  ): Promise<LoadedTable> {
    const existing = await this.load(ref);
    if (existing !== null) return existing;
    const metadata = newTableMetadata({
      location: init.location,
      tableUuid: crypto.randomUUID(),
      schema: init.schema,
      lastColumnId: Math.max(0, ...init.schema.fields.map((f) => f.id)),
      properties: init.properties,
      nowMs: this.now(),
    });
    return this.write(ref, 1, metadata);
  }

  async commit(ref: TableRef, base: LoadedTable, change: Parameters<TableStore["commit"]>[2]): Promise<LoadedTable> {
    const current = await this.load(ref);
    if (current === null) throw new CommitConflictError(`lake: table ${ref.namespace.join(".")}.${ref.name} is gone`);
    if (current.metadataLocation !== base.metadataLocation) {
      throw new CommitConflictError(`lake: ${ref.name} was committed by another writer since it was loaded`);
    }
    checkRequirements(current.metadata, change.requirements);
    const metadata = applyUpdates(current.metadata, change.updates, {
      nowMs: this.now(),
      previousMetadataLocation: current.metadataLocation,
    });
    return this.write(ref, ((await this.version(ref)) ?? 0) + 1, metadata);
  }

  /** The table's root as an R2 key prefix (`processed/{namespace}/{name}/`). */
  tableKey(ref: TableRef): string {
    return `processed/${ref.namespace.join("/")}/${ref.name}/`;
  }

  private metadataPath(ref: TableRef, version: number): string {
    return this.location.uriOf(`${this.tableKey(ref)}metadata/v${version}.metadata.json`);
  }

  private async version(ref: TableRef): Promise<number | null> {
    const hint = await this.bucket.get(`${this.tableKey(ref)}${HINT}`);
    if (hint === null) return null;
    const text = (await hint.text()).trim();
    if (!/^\d+$/.test(text))
      throw new Error(`lake: ${this.tableKey(ref)}${HINT} holds "${text.slice(0, 20)}", not a version number`);
    return Number(text);
  }

  private async write(ref: TableRef, version: number, metadata: LoadedTable["metadata"]): Promise<LoadedTable> {
    const path = this.metadataPath(ref, version);
    const key = this.location.keyOf(path);
    try {
      const body = JSON.stringify(metadata);
      const options = { httpMetadata: { contentType: "application/json" }, onlyIf: { etagDoesNotMatch: "*" } };
      let put = await this.bucket.put(key, body, options);
      // The file is there but the hint is still behind it: a commit that stopped between its two
      // puts (the compact lease keeps writers single, so no live writer owns it). It goes, and this
      // commit takes the version, instead of every later commit conflicting until a sweep.
      if (put === null && ((await this.version(ref)) ?? 0) < version) {
        await this.bucket.delete(key);
        put = await this.bucket.put(key, body, options);
      }
      if (put === null) throw new CommitConflictError(`lake: ${path} already exists: another writer committed`);
      await this.bucket.put(`${this.tableKey(ref)}${HINT}`, String(version), {
        httpMetadata: { contentType: "text/plain" },
      });
    } catch (err) {
      if (err instanceof CommitConflictError) throw err;
      // A put that failed may have landed all the same: the hint says whether the commit did. If it
      // did not, this version's metadata file goes, or every later commit would find the version
      // taken and conflict until the upkeep sweep deleted the file.
      const named = await this.version(ref).catch(() => undefined);
      if (named === version) return { metadata, metadataLocation: path };
      if (named !== undefined) await this.bucket.delete(key).catch(() => undefined);
      throw err;
    }
    return { metadata, metadataLocation: path };
  }
}
