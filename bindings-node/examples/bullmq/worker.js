// @ts-check
'use strict'
// export-core jobs run by BullMQ workers: the engine keeps the export job (its request, owner,
// status, file), BullMQ carries only its id and decides which process runs it when.
//
//   const job = await engine.create(principal, request)       // the engine's job, pending
//   await enqueue(queue, job.id)                               // BullMQ job { exportJobId }
//   const worker = startWorker({ engine, connection, queueName })
//
// The processor runs that one engine job (`engine.runOnce({ jobId })`) and reports its progress
// as the BullMQ job's (`{ rows, expected }`). The BullMQ job completes with the run's outcome
// when the export succeeded; otherwise:
//
// - failed or cancelled export, or an engine job that is not pending (unknown, already run,
//   cancelled before it ran, running elsewhere): the BullMQ job fails with an
//   `UnrecoverableError` (no BullMQ retry: there is nothing left to run);
// - a transient failure (I/O, storage, store) the engine will retry: the engine job is pending
//   again, due after its retry delay (`worker.retry_delay` of the engine's configuration,
//   doubled per attempt up to `worker.max_retry_delay`); the BullMQ job is delayed as long
//   (`retryDelayMs`, `maxRetryDelayMs`: give the engine's values) and runs it again then. Retries
//   are the engine's (`limits.max_attempts`), not BullMQ's `attempts`, which cannot re-run an
//   export the engine gave up on;
// - released (BullMQ cancelled the job through its signal, `worker.cancelJob(id)`: the export
//   stops before its next batch and the engine job is pending again) or lease lost: a plain
//   `Error`, retried when the BullMQ job has attempts left.

const { Worker, UnrecoverableError, DelayedError } = require('bullmq')

/** @typedef {import('../..').Engine} Engine */
/** @typedef {import('../..').JobOutcome} JobOutcome */
/** @typedef {import('bullmq').ConnectionOptions} ConnectionOptions */
/**
 * `engineRetries`: how many engine retries the BullMQ job waited for (set by the worker).
 * @typedef {{ exportJobId: string, engineRetries?: number }} ExportJobData
 */
/** @typedef {{ rows: number, expected: number | null }} ExportProgress */

/**
 * A job error's code: the core serializes `kind` (export-core/src/job/mod.rs `JobError`),
 * index.d.ts declares `code`.
 * @param {import('../..').JobError | null} error
 */
function errorText(error) {
  if (!error) return 'no error recorded'
  const code = error.code ?? error.kind
  return `${code ?? 'ERROR'}: ${error.message}`
}

/**
 * Starts a BullMQ worker of `queueName` running the engine jobs its jobs name.
 * @param {object} options
 * @param {Engine} options.engine
 * @param {ConnectionOptions} options.connection BullMQ's Redis connection (options or a client)
 * @param {string} options.queueName
 * @param {number} [options.concurrency] engine jobs run at once by this worker (default 1)
 * @param {number} [options.retryDelayMs] the engine's `worker.retry_delay` (default 30 s, the engine's default)
 * @param {number} [options.maxRetryDelayMs] the engine's `worker.max_retry_delay` (default 1 h)
 * @returns {Worker<ExportJobData, JobOutcome>}
 */
function startWorker({ engine, connection, queueName, concurrency = 1, retryDelayMs = 30_000, maxRetryDelayMs = 3_600_000 }) {
  /**
   * @param {import('bullmq').Job<ExportJobData, JobOutcome>} job
   * @param {string | undefined} token
   * @param {AbortSignal | undefined} signal
   * @returns {Promise<JobOutcome>}
   */
  const processor = async (job, token, signal) => {
    const jobId = job.data && job.data.exportJobId
    if (typeof jobId !== 'string' || jobId === '') {
      throw new UnrecoverableError('job.data.exportJobId must be the id of an export-core job')
    }
    let outcome
    try {
      outcome = await engine.runOnce({
        jobId,
        signal,
        onProgress: (_id, rows, expected) => {
          /** @type {ExportProgress} */
          const progress = { rows, expected }
          // Progress is best effort: a Redis hiccup must not stop the export.
          job.updateProgress(progress).catch(() => {})
        },
      })
    } catch (err) {
      // EXPORT_NOT_FOUND (deleted, never existed) cannot get better; store errors may.
      if (/** @type {{ code?: unknown }} */ (err).code === 'EXPORT_NOT_FOUND') {
        throw new UnrecoverableError(`export job ${jobId} does not exist`)
      }
      throw err
    }
    if (outcome == null) {
      // `runOnce({ jobId })` answers null both for a job that is over and for one whose retry
      // is not due yet: after the delay for an engine retry, it is due.
      throw new UnrecoverableError(`export job ${jobId} is not pending (already run, cancelled, or running elsewhere)`)
    }
    switch (outcome.status) {
      case 'succeeded':
        return outcome
      case 'failed':
        throw new UnrecoverableError(`export job ${jobId} failed: ${errorText(outcome.error)}`)
      case 'cancelled':
        throw new UnrecoverableError(`export job ${jobId} was cancelled`)
      default:
        if (outcome.status === 'pending' && !outcome.released && !outcome.lease_lost) {
          // The engine scheduled a retry: wait for it, then run the job again.
          const retries = job.data.engineRetries ?? 0
          const delay = Math.min(retryDelayMs * 2 ** retries, maxRetryDelayMs) + 1000
          await job.updateData({ ...job.data, engineRetries: retries + 1 })
          await job.moveToDelayed(Date.now() + delay, token)
          throw new DelayedError(`export job ${jobId}: ${errorText(outcome.error)}; the engine retries it in ${delay} ms`)
        }
        if (outcome.released) throw new Error(`export job ${jobId} was released before it finished (pending again)`)
        if (outcome.lease_lost) throw new Error(`export job ${jobId}: the lease was lost to another worker`)
        throw new Error(`export job ${jobId} is ${outcome.status}: ${errorText(outcome.error)}`)
    }
  }
  return new Worker(queueName, processor, { connection, concurrency })
}

/**
 * Queues the engine job `exportJobId` for the workers. The BullMQ job id is the export job's,
 * so queueing the same export twice adds it once.
 * @param {import('bullmq').Queue} queue
 * @param {string} exportJobId
 * @param {import('bullmq').JobsOptions} [options]
 */
function enqueue(queue, exportJobId, options) {
  /** @type {ExportJobData} */
  const data = { exportJobId }
  return queue.add('export', data, { jobId: exportJobId, removeOnComplete: 1000, removeOnFail: 1000, ...options })
}

module.exports = { startWorker, enqueue }
