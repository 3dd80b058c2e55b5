/** Types of ./pull.mjs for the tests that call it. */
export interface LakeBucket {
  list(options: { prefix?: string; cursor?: string }): Promise<{
    objects: { key: string }[];
    truncated: boolean;
    cursor?: string;
  }>;
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
}
export function lastDays(now: Date, days: number): string[];
export function pullLake(
  bucket: LakeBucket,
  outDir: string,
  options?: { days?: number; now?: Date; log?: (line: string) => void },
): Promise<{ tables: string[]; objects: number; bytes: number; sql: string }>;
