// The public API of the `export-core` package (export-core.js). Errors are `Error`s whose
// `code` is `EXPORT_` and the core's code (`EXPORT_INVALID_REQUEST`, `EXPORT_NOT_FOUND`, ...);
// an aborted export rejects with an `AbortError` (`code: 'ABORT_ERR'`); an error thrown by the
// caller's iterator or data function propagates unchanged.
import type { Readable } from 'node:stream'
import type {
  Job,
  JobOutcome,
  JobPage,
  JobStatusView,
  ListQuery,
  Platform,
  Principal,
  PurgeReport,
  Schedule,
  Summary,
} from './index'

export type {
  Job,
  JobError,
  JobOutcome,
  JobPage,
  JobStatusName,
  JobStatusView,
  ListQuery,
  Platform,
  Principal,
  PurgeReport,
  Schedule,
  Summary,
} from './index'

/** A row: a plain object, or an array of values with the `columns` option. */
export type Row = Record<string, unknown> | ReadonlyArray<unknown>

/** Rows (an array, or any iterable or async iterable of rows), or Arrow IPC bytes (stream or file format). */
export type Data = ReadonlyArray<Row> | Iterable<Row> | AsyncIterable<Row> | Uint8Array

/** Where a file goes: a path (written atomically) or a Writable (ended afterwards unless `keepOpen`). */
export type Out = string | NodeJS.WritableStream

/** How a call is followed and stopped. */
export interface Control {
  /** Aborts the export between batches: the promise rejects with an `AbortError`, no file is left at a path. */
  signal?: AbortSignal
  /** Called with the rows written so far, after each batch. */
  onProgress?: (rows: number) => void
  /** With a Writable `out`: leave it open when the export is done (default: it is ended). */
  keepOpen?: boolean
}

/** Options of every writer; unknown keys are refused (`EXPORT_INVALID_REQUEST`, naming the key). */
export interface CommonOptions extends Control {
  /** Keep only these columns, in this order. */
  fields?: string[]
  /** Leave these columns out. */
  exclude?: string[]
  /** Rename columns, old name to new name. */
  rename?: Record<string, string>
  /** Column names of array rows (for object rows: fixes the columns and their order). */
  columns?: string[]
  /** Rows per batch (default 8192). */
  batchRows?: number
  /**
   * Columns written as floats whatever the first batch holds. A column's type is fixed by its
   * first batch: whole JS numbers make an integer column, which a later `12.5` does not fit.
   */
  floatColumns?: string[]
  /** Neutralise formula-like text cells (CSV and XLSX; default true). */
  formulaGuard?: boolean
  /** Threads formatting rows (CSV and JSON). */
  threads?: number
}

export interface CsvOptions extends CommonOptions {
  bom?: boolean
  delimiter?: string
  quoteStyle?: 'necessary' | 'always' | 'non-numeric' | 'never'
  header?: boolean
  crlf?: boolean
  null?: string
  boolValues?: [string, string]
  decimalSeparator?: string
  timestampFormat?: string
  dateFormat?: string
  timeFormat?: string
  compression?: 'none' | 'gzip' | 'zip'
}

export interface HeaderStyle {
  bold?: boolean
  background?: string | null
  fontColor?: string | null
}

export interface XlsxOptions extends CommonOptions {
  sheetName?: string
  /** Several sheets (the data argument is then null): sheet name to data, or `[name, data]` pairs. */
  sheets?: Record<string, Data> | ReadonlyArray<readonly [string, Data]>
  sheetRows?: number
  headerStyle?: HeaderStyle
  columnWidths?: Record<string, number>
  defaultWidth?: number
  freezeHeader?: boolean
  autofilter?: boolean
}

export interface JsonOptions extends CommonOptions {
  /** JSON Lines instead of an array. */
  lines?: boolean
  pretty?: boolean
  explicitNulls?: boolean
  compression?: 'none' | 'gzip' | 'zip'
}

export interface ExportTripsArgs extends Control {
  version?: 'v1' | 'v2' | 'v3' | string
  audience: 'operator' | 'territory' | 'opendata' | string
  format?: 'csv' | 'xlsx' | 'json' | 'jsonl'
  start: string
  end: string
  /** Default `Europe/Paris`. */
  tz?: string
  /** The trips to export (the trip schema's columns); default: `rows` sample trips. */
  source?: Data
  /** Sample trips generated (default 100000). */
  rows?: number
  /** The generator's seed (default 42). */
  seed?: number
  fields?: string[]
  exclude?: string[]
  rename?: Record<string, string>
  [option: string]: unknown
}

/** The file of an export as it is written; destroying it cancels the export. */
export interface ExportStream extends Readable {
  /** The summary, once the last chunk is read (rejects as the stream's 'error'). */
  readonly summary: Promise<Summary>
}

/** The `Error` every function rejects with. */
export interface ExportError extends Error {
  /** `EXPORT_` and the core's code: `EXPORT_INVALID_REQUEST`, `EXPORT_INVALID_INPUT`, `EXPORT_NOT_FOUND`, `EXPORT_INTERNAL`, ... */
  code: string
}

/** Writes `data` as CSV to `out`. */
export function writeCsv(data: Data, out: Out, options?: CsvOptions): Promise<Summary>
/** Writes `data` as CSV into the returned Readable. */
export function writeCsv(data: Data, out?: null, options?: CsvOptions): ExportStream
/** Writes `data` (or `options.sheets`) as an XLSX workbook to `out`. */
export function writeXlsx(data: Data | null, out: Out, options?: XlsxOptions): Promise<Summary>
export function writeXlsx(data: Data | null, out?: null, options?: XlsxOptions): ExportStream
/** Writes `data` as a JSON array of objects, or JSON Lines with `lines: true`, to `out`. */
export function writeJson(data: Data, out: Out, options?: JsonOptions): Promise<Summary>
export function writeJson(data: Data, out?: null, options?: JsonOptions): ExportStream
/** The trip schema's export (the audience's privacy rules) to `out`. */
export function exportTrips(out: Out, args: ExportTripsArgs): Promise<Summary>
export function exportTrips(out: null | undefined, args: ExportTripsArgs): ExportStream

/** A finished export's file. */
export interface DownloadStream extends Readable {
  readonly fileName: string
  readonly contentType: string
  readonly size: number
  readonly sha256: string
  readonly rows: number
}

/** How a worker run gets its data and is followed. */
export interface WorkerOptions {
  /** The data of a job: any input the writers take, for the job's request. */
  data?: (request: Record<string, unknown>) => Data | Promise<Data>
  onProgress?: (jobId: string, rows: number, rowsExpected: number | null) => void
  /** Releases the running job (pending again, nothing published) before its next batch. */
  signal?: AbortSignal
  /** Runs this job only, when it is pending. */
  jobId?: string
}

/** The engine: job store, storage, audit log, schemas and policies. */
export declare class Engine {
  /** An object (the configuration's keys), the path of a TOML or JSON file, or nothing for the embedded defaults. */
  constructor(config?: Record<string, unknown> | string | null)
  create(principal: Principal, request: Record<string, unknown>): Promise<Job>
  list(principal: Principal, query?: ListQuery | null): Promise<JobPage>
  get(principal: Principal, id: string): Promise<Job>
  status(principal: Principal, id: string): Promise<JobStatusView>
  cancel(principal: Principal, id: string): Promise<Job>
  delete(principal: Principal, id: string): Promise<void>
  download(principal: Principal, id: string): Promise<DownloadStream>
  runOnce(options?: WorkerOptions): Promise<JobOutcome | null>
  runUntilIdle(options?: Omit<WorkerOptions, 'jobId'>): Promise<JobOutcome[]>
  tickScheduler(): Promise<Record<string, unknown>>
  purge(options?: { dryRun?: boolean }): Promise<PurgeReport>
  listSchedules(principal: Principal): Promise<Schedule[]>
  createSchedule(principal: Principal, spec: Record<string, unknown>): Promise<Schedule>
  getSchedule(principal: Principal, id: string): Promise<Schedule>
  scheduleRuns(principal: Principal, id: string, limit?: number): Promise<Record<string, unknown>[]>
  setScheduleEnabled(principal: Principal, id: string, enabled: boolean): Promise<Schedule>
  deleteSchedule(principal: Principal, id: string): Promise<unknown>
  installMonthlyOpendata(principal: Principal): Promise<unknown>
  createPlatform(principal: Principal, name: string, request: Record<string, unknown>, description?: string): Promise<Platform>
  listPlatforms(principal: Principal): Promise<Platform[]>
  getPlatform(principal: Principal, name: string): Promise<Platform>
  deletePlatform(principal: Principal, name: string): Promise<unknown>
}

/** Sample trips in the trip input schema, as Arrow IPC stream bytes (for demos, tests and a job's `data`). */
export function sampleTrips(args: { start: string; end: string; tz?: string; rows?: number; seed?: number }): Promise<Buffer>

/** For the test that a panic in the work never crashes Node: rejects with `EXPORT_INTERNAL`. */
export function _panicForTests(message: string): Promise<Summary>
