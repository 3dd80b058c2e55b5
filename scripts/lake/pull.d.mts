/** Types of ./pull.mjs for the tests that call it. */
export interface LakeBucket {
  list(options: { prefix?: string; cursor?: string }): Promise<{
    objects: { key: string }[];
    truncated: boolean;
    cursor?: string;
  }>;
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
}
export interface PulledTable {
  namespace: string;
  table: string;
  /** The metadata version the table's hint named (`metadata/vN.metadata.json`). */
  version: number;
  snapshotId: number | null;
  /** Every key copied for the table: data and delete files, metadata, manifests, the hint. */
  keys: string[];
}
export function pullLake(
  bucket: LakeBucket,
  outDir: string,
  options?: { tables?: string[]; log?: (line: string) => void },
): Promise<{ tables: PulledTable[]; objects: number; bytes: number; sql: string }>;
