/**
 * The Parquet writer of the `compact` job, shared with the jobs that archive D1 rows to R2
 * (a job's folder is private to it, so this re-export beside the dispatcher is the door):
 * `PartBuffer` builds one part column by column, `compactTableOf` derives its column spec from
 * a drizzle table.
 */
export { PartBuffer } from "./compact/parquet";
export { type CompactTable, compactTableOf } from "./compact/tables";
