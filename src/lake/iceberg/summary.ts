/**
 * A snapshot's summary metrics (spec Appendix F) from the files it adds and removes and its
 * parent's totals, as Java writes them: added/removed counts only when non-zero, totals always,
 * every value a string. Engines show these and planners use `total-records`, so they are derived
 * from the same DataFile objects the manifests are written from. Trade-off: when the parent's
 * summary lacks a total (a snapshot another writer made without it) that total is left out
 * rather than guessed. Pure.
 */
import type { DataFile, Snapshot } from "./types";

interface Tally {
  dataFiles: number;
  deleteFiles: number;
  records: number;
  equalityDeletes: number;
  size: number;
}

function tally(files: readonly DataFile[]): Tally {
  const t: Tally = { dataFiles: 0, deleteFiles: 0, records: 0, equalityDeletes: 0, size: 0 };
  for (const f of files) {
    t.size += f.fileSizeInBytes;
    if (f.content === 0) {
      t.dataFiles += 1;
      t.records += f.recordCount;
    } else {
      t.deleteFiles += 1;
      t.equalityDeletes += f.recordCount;
    }
  }
  return t;
}

/** Summary metrics for a snapshot whose parent is `previous` (null for the table's first). */
export function snapshotSummary(options: {
  previous: Snapshot | null;
  added: readonly DataFile[];
  removed: readonly DataFile[];
}): Record<string, string> {
  const added = tally(options.added);
  const removed = tally(options.removed);
  const out: Record<string, string> = {};
  const setIf = (key: string, n: number) => {
    if (n > 0) out[key] = String(n);
  };
  setIf("added-data-files", added.dataFiles);
  setIf("added-records", added.records);
  setIf("added-files-size", added.size);
  setIf("added-delete-files", added.deleteFiles);
  setIf("added-equality-delete-files", added.deleteFiles);
  setIf("added-equality-deletes", added.equalityDeletes);
  setIf("deleted-data-files", removed.dataFiles);
  setIf("deleted-records", removed.records);
  setIf("removed-files-size", removed.size);
  setIf("removed-delete-files", removed.deleteFiles);
  setIf("removed-equality-delete-files", removed.deleteFiles);
  setIf("removed-equality-deletes", removed.equalityDeletes);
  out["changed-partition-count"] = options.added.length + options.removed.length > 0 ? "1" : "0";

  const totals: [string, number][] = [
    ["total-data-files", added.dataFiles - removed.dataFiles],
    ["total-delete-files", added.deleteFiles - removed.deleteFiles],
    ["total-records", added.records - removed.records],
    ["total-files-size", added.size - removed.size],
    ["total-equality-deletes", added.equalityDeletes - removed.equalityDeletes],
    ["total-position-deletes", 0],
  ];
  for (const [key, delta] of totals) {
    const before = options.previous === null ? "0" : options.previous.summary[key];
    if (before === undefined || !/^\d+$/.test(before)) continue;
    out[key] = String(Number(before) + delta);
  }
  return out;
}
