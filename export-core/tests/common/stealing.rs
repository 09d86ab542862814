//! A source provider whose second batch lets another worker steal the job: the lease has
//! expired (a manual clock moved past it) and a worker named `thief` claims it.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use chrono::Duration;
use export_core::clock::{Clock, ManualClock};
use export_core::job::{ExportJob, JobStore};
use export_core::source::Source;
use export_core::worker::{SampleTripsProvider, SourceProvider};
use export_core::{ExportError, Result};

/// Sample trips whose second batch lets another worker steal the job (the lease expired).
pub struct StealingProvider {
    pub store: Arc<dyn JobStore>,
    pub clock: Arc<ManualClock>,
}

struct StealingSource {
    inner: Box<dyn Source>,
    batches: usize,
    store: Arc<dyn JobStore>,
    clock: Arc<ManualClock>,
}

impl SourceProvider for StealingProvider {
    fn open(&self, job: &ExportJob) -> Result<Vec<Box<dyn Source>>> {
        let inner = SampleTripsProvider {
            rows: 50_000,
            seed: 1,
        }
        .open(job)?
        .pop()
        .ok_or_else(|| ExportError::request("sources", "none"))?;
        Ok(vec![Box::new(StealingSource {
            inner,
            batches: 0,
            store: self.store.clone(),
            clock: self.clock.clone(),
        })])
    }
}

impl Source for StealingSource {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        self.batches += 1;
        if self.batches == 2 {
            self.clock.advance(Duration::seconds(120));
            let now = self.clock.now();
            self.store.reclaim_expired_leases(now)?;
            assert!(
                self.store
                    .claim("thief", Duration::seconds(60), now)?
                    .is_some()
            );
        }
        self.inner.next_batch()
    }
    fn rows_hint(&self) -> Option<u64> {
        self.inner.rows_hint()
    }
}
