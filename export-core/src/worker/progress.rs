//! [`ProgressSources`]: a [`SourceProvider`] that reports each job's rows as its sources are
//! read, for hosts that follow a worker run live (a Python callback, a Node function, a task
//! queue's progress).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::SourceProvider;
use crate::Result;
use crate::job::ExportJob;
use crate::source::Source;

/// Called after each batch with the job's id, the rows read so far and the rows expected (the
/// sources' hint); an error stops the job's export with that error.
pub type JobProgressFn = Arc<dyn Fn(&str, u64, Option<u64>) -> Result<()> + Send + Sync>;

/// Wraps a provider so that every batch of a job's sources is reported to a callback.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use export_core::worker::{ProgressSources, SampleTripsProvider, SourceProvider};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let inner: Arc<dyn SourceProvider> = Arc::new(SampleTripsProvider { rows: 10, seed: 1 });
/// let sources = ProgressSources::new(
///     inner,
///     Arc::new(move |job: &str, rows, _expected| {
///         log.lock().unwrap().push((job.to_string(), rows));
///         Ok(())
///     }),
/// );
/// # let _ = sources;
/// ```
pub struct ProgressSources {
    inner: Arc<dyn SourceProvider>,
    callback: JobProgressFn,
}

impl ProgressSources {
    /// Reports the sources of `inner` to `callback`.
    pub fn new(inner: Arc<dyn SourceProvider>, callback: JobProgressFn) -> ProgressSources {
        ProgressSources { inner, callback }
    }
}

impl SourceProvider for ProgressSources {
    fn open(&self, job: &ExportJob) -> Result<Vec<Box<dyn Source>>> {
        Ok(self
            .inner
            .open(job)?
            .into_iter()
            .map(|inner| {
                Box::new(ProgressSource {
                    expected: inner.rows_hint(),
                    inner,
                    job_id: job.id.to_string(),
                    rows: 0,
                    callback: self.callback.clone(),
                }) as Box<dyn Source>
            })
            .collect())
    }
}

struct ProgressSource {
    inner: Box<dyn Source>,
    job_id: String,
    rows: u64,
    expected: Option<u64>,
    callback: JobProgressFn,
}

impl Source for ProgressSource {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let batch = self.inner.next_batch()?;
        if let Some(b) = &batch {
            self.rows += b.num_rows() as u64;
            (self.callback)(&self.job_id, self.rows, self.expected)?;
        }
        Ok(batch)
    }

    fn rows_hint(&self) -> Option<u64> {
        self.expected
    }
}
