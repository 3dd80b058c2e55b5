/**
 * Snapshot expiry, following the spec's "Snapshot Retention Policy": keep every ref's snapshot,
 * walk each branch back keeping ancestors until one is both older than `olderThanMs` and beyond
 * the newest `retainLast`, keep unreferenced snapshots newer than `olderThanMs`, expire the rest.
 * The current snapshot is always kept. unreferencedFiles then says which files only the expired
 * snapshots reach, so the caller deletes exactly those after committing the removal. Pure: the
 * caller reads the manifest lists and manifests. Trade-offs: the caller must pass the manifests of
 * every kept snapshot, since a file is deleted unless a kept snapshot is shown to reach it live; and
 * the per-ref retention settings (`min-snapshots-to-keep`, `max-ref-age-ms`, …) are not read, since
 * the lake's tables have only the main branch and the job's own settings.
 */
import type { ManifestEntry, Snapshot, TableMetadata, TableUpdate } from "./types";

/** The snapshots to expire and the update that removes them (none when nothing expires). */
export function expireSnapshots(
  metadata: TableMetadata,
  o: { olderThanMs: number; retainLast: number },
): { updates: TableUpdate[]; expired: Snapshot[]; kept: Snapshot[] } {
  const byId = new Map(metadata.snapshots.map((s) => [s["snapshot-id"], s]));
  const retained = new Set<number>();
  const refIds = new Set(Object.values(metadata.refs).map((r) => r["snapshot-id"]));
  const current = metadata["current-snapshot-id"];
  if (current !== undefined) refIds.add(current);
  for (const id of refIds) retained.add(id);

  const branchHeads = Object.values(metadata.refs)
    .filter((r) => r.type === "branch")
    .map((r) => r["snapshot-id"]);
  if (current !== undefined) branchHeads.push(current);
  const retainLast = Math.max(1, o.retainLast);
  for (const head of branchHeads) {
    let snapshot = byId.get(head);
    for (let depth = 0; snapshot !== undefined; depth++) {
      if (depth >= retainLast && snapshot["timestamp-ms"] < o.olderThanMs) break;
      retained.add(snapshot["snapshot-id"]);
      const parent = snapshot["parent-snapshot-id"];
      snapshot = parent === undefined ? undefined : byId.get(parent);
    }
  }

  // Ancestors of any ref (retained or not) are "referenced"; others are judged by age alone.
  const reachable = new Set<number>();
  for (const id of refIds) {
    for (let s = byId.get(id); s !== undefined && !reachable.has(s["snapshot-id"]); ) {
      reachable.add(s["snapshot-id"]);
      const parent = s["parent-snapshot-id"];
      s = parent === undefined ? undefined : byId.get(parent);
    }
  }
  for (const s of metadata.snapshots) {
    if (!reachable.has(s["snapshot-id"]) && s["timestamp-ms"] >= o.olderThanMs) retained.add(s["snapshot-id"]);
  }

  const expired = metadata.snapshots.filter((s) => !retained.has(s["snapshot-id"]));
  const kept = metadata.snapshots.filter((s) => retained.has(s["snapshot-id"]));
  const updates: TableUpdate[] =
    expired.length === 0 ? [] : [{ action: "remove-snapshots", "snapshot-ids": expired.map((s) => s["snapshot-id"]) }];
  return { updates, expired, kept };
}

/** What a snapshot reaches: its manifest list, and each manifest with its entries. */
export interface SnapshotFiles {
  manifestList: string;
  manifests: readonly { path: string; entries: readonly ManifestEntry[] }[];
}

/**
 * Paths (data and delete files, manifests, manifest lists) that the expired snapshots reach and
 * no kept snapshot does, sorted. A file a kept manifest lists only as deleted (status 2) is not
 * live there, so it goes once the snapshots that had it live are gone.
 */
export function unreferencedFiles(expired: readonly SnapshotFiles[], kept: readonly SnapshotFiles[]): string[] {
  const live = new Set<string>();
  for (const s of kept) {
    live.add(s.manifestList);
    for (const m of s.manifests) {
      live.add(m.path);
      for (const e of m.entries) if (e.status !== 2) live.add(e.dataFile.filePath);
    }
  }
  const out = new Set<string>();
  const consider = (path: string) => {
    if (!live.has(path)) out.add(path);
  };
  for (const s of expired) {
    consider(s.manifestList);
    for (const m of s.manifests) {
      consider(m.path);
      for (const e of m.entries) consider(e.dataFile.filePath);
    }
  }
  return [...out].sort();
}
