/**
 * The lake's Parquet writer: a streaming writer whose memory is bounded by its row-group size,
 * and sinks for R2 and memory. See writer.ts for the format it writes and why.
 */
export { MemorySink, R2MultipartSink, type R2MultipartSinkOptions } from "./sinks";
export type { ColumnFileStats, FileStats, ParquetColumnSpec, ParquetKind, ParquetSink, ParquetValue } from "./types";
export { ParquetFileWriter, type ParquetFileWriterOptions } from "./writer";
