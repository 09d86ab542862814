//! The trip schema's filter step: [`Filters::apply_trip`], the request's filters over a batch of
//! input trips.

use std::collections::HashSet;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_buffer::BooleanBuffer;
use arrow_schema::{DataType, TimeUnit};

use super::derive::utc_millis;
use super::field;
use crate::error::{ExportError, Result};
use crate::filter::{Filters, TERRITORY_FIELDS, build, input_column, reseau_error, string_in};
use crate::request::{Audience, Period};

impl Filters {
    /// Keeps the trips of a batch in the canonical trip input schema that pass every filter:
    ///
    /// - `period`: `start_at` in `[start, end)`;
    /// - `operators`: `operator_id` is one of them;
    /// - `territories`: one of the ids equals (exactly) the start or end AOM, EPCI, INSEE,
    ///   département or region value ([`TERRITORY_FIELDS`]);
    /// - `geo`: the start **or** the end matches a code of any level (levels are united);
    /// - audience: status `ok` only for opendata and territory.
    ///
    /// Only the columns a filter needs must be present; they are coerced like input columns.
    ///
    /// # Errors
    ///
    /// [`ExportError::MissingColumn`] or [`ExportError::ColumnType`] for a needed column;
    /// [`ExportError::InvalidRequest`] on `filters.geo` for the `reseau` level;
    /// [`ExportError::Arrow`] if filtering fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{Int64Array, RecordBatch, StringArray};
    /// use export_core::filter::Filters;
    /// use export_core::request::Audience;
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("operator_id", Arc::new(Int64Array::from(vec![1, 2, 1])) as _),
    ///     ("status", Arc::new(StringArray::from(vec!["ok", "ok", "canceled"])) as _),
    /// ]).unwrap();
    /// let filters = Filters { operators: vec![1], ..Default::default() };
    /// assert_eq!(filters.apply_trip(&batch, None, Audience::Operator).unwrap().num_rows(), 2);
    /// assert_eq!(filters.apply_trip(&batch, None, Audience::Territory).unwrap().num_rows(), 1);
    /// ```
    pub fn apply_trip(
        &self,
        batch: &RecordBatch,
        period: Option<&Period>,
        audience: Audience,
    ) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let mut mask: Option<BooleanBuffer> = None;
        let mut and = |m: BooleanBuffer| {
            mask = Some(match mask.take() {
                Some(old) => &old & &m,
                None => m,
            });
        };
        if let Some(p) = period {
            let expected = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
            let raw = batch.column_by_name(field::START_AT).ok_or_else(|| {
                ExportError::MissingColumn {
                    column: field::START_AT.to_string(),
                    expected: expected.to_string(),
                }
            })?;
            let col = utc_millis(field::START_AT, raw)?;
            let ts = col.as_primitive::<TimestampMillisecondType>();
            let (start, end) = (p.start.timestamp_millis(), p.end.timestamp_millis());
            and(build(rows, |i| {
                ts.is_valid(i) && (start..end).contains(&ts.value(i))
            }));
        }
        if !self.operators.is_empty() {
            let col = input_column(batch, field::OPERATOR_ID, &DataType::Int64)?;
            let ids = col.as_primitive::<Int64Type>();
            let wanted: HashSet<i64> = self.operators.iter().copied().collect();
            and(build(rows, |i| {
                ids.is_valid(i) && wanted.contains(&ids.value(i))
            }));
        }
        if !self.territories.is_empty() {
            let wanted: HashSet<&str> = self.territories.iter().map(String::as_str).collect();
            let mut any = BooleanBuffer::new_unset(rows);
            for suffix in TERRITORY_FIELDS {
                for side in ["start", "end"] {
                    let m = string_in(batch, &format!("{side}_{suffix}"), &wanted)?;
                    any = &any | &m;
                }
            }
            and(any);
        }
        if !self.geo.is_empty() {
            let mut any = BooleanBuffer::new_unset(rows);
            for (level, codes) in &self.geo {
                let suffix = level.trip_field().ok_or_else(reseau_error)?;
                let wanted: HashSet<&str> = codes.iter().map(String::as_str).collect();
                for side in ["start", "end"] {
                    let m = string_in(batch, &format!("{side}_{suffix}"), &wanted)?;
                    any = &any | &m;
                }
            }
            and(any);
        }
        if matches!(audience, Audience::Opendata | Audience::Territory) {
            let ok = HashSet::from(["ok"]);
            and(string_in(batch, field::STATUS, &ok)?);
        }
        match mask {
            None => Ok(batch.clone()),
            Some(m) if m.count_set_bits() == rows => Ok(batch.clone()),
            Some(m) => Ok(arrow_select::filter::filter_record_batch(
                batch,
                &BooleanArray::new(m, None),
            )?),
        }
    }
}
