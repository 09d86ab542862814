//! Privacy transforms of the opendata audience.
//!
//! The opendata rules of the trip schema (see `trip-schema.md`):
//!
//! 1. **Rare zones** ([`ZoneCounts`], [`drop_rare_zones`], [`RareZoneFilter`]): a trip whose
//!    start or end INSEE code occurs in fewer than [`DEFAULT_RARE_ZONE_THRESHOLD`] trips of the
//!    exported period is dropped.
//! 2. **Time** ([`ceil_to_10_minutes`]): instants rounded up to the next 10 minutes.
//! 3. **Position** ([`truncate_coordinate`]): coordinates truncated to 3 decimals where the
//!    commune's density is above 40 inhabitants/km², else to 2.
//! 4. **Identifiers** ([`keyed_trip_id`]): no person or operator identifiers; the trip id is a
//!    keyed HMAC-SHA256 of the operator's trip id.
//! 5. **Report** ([`PrivacyReport`]): how many trips were exposed and how many rule 1 removed.
//!
//! Rules 2 to 4 are applied by [`crate::schema::trip::derive`]; rule 1 needs counts over the whole
//! period, hence two passes.
//!
//! # Where the first pass comes from, and why memory stays bounded
//!
//! Rule 1 needs, before the first row is written, the number of trips touching each commune over
//! the whole (filtered) period. The pipeline therefore reads the filtered input once, calling
//! [`ZoneCounts::observe`] on each batch **and** spooling the batch to a temporary Arrow IPC file
//! ([`ZoneSpool`]); it then re-reads the spool and passes each batch through
//! [`RareZoneFilter::apply`] before deriving and writing. A source that already knows the counts
//! (a database `GROUP BY`) can supply them with [`ZoneCounts::add`] and skip the spool.
//!
//! Memory is bounded by the number of distinct INSEE codes (about 35,000 French communes and
//! arrondissements, plus foreign codes: a few megabytes), never by the number of rows; the spool
//! uses disk proportional to the rows, and one batch of memory at a time.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, SeekFrom};

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow_buffer::BooleanBufferBuilder;
use arrow_schema::{DataType, SchemaRef};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{ExportError, Result};
use crate::schema::coerce;
use crate::schema::trip::field;

/// Default of rule 1: a commune must occur in at least this many trips to be shown.
pub const DEFAULT_RARE_ZONE_THRESHOLD: u64 = 6;

/// Rounds an instant (seconds since the Unix epoch) **up** to the next multiple of 10 minutes:
/// `ceil(epoch / 600) * 600`. Instants already on a multiple stay where they are.
///
/// # Examples
///
/// ```
/// use export_core::privacy::ceil_to_10_minutes;
/// // 2026-10-03T06:11:00Z → 06:20:00Z
/// assert_eq!(ceil_to_10_minutes(1_791_007_860), 1_791_008_400);
/// assert_eq!(ceil_to_10_minutes(1_791_008_400), 1_791_008_400);
/// assert_eq!(ceil_to_10_minutes(-1), 0);
/// ```
pub fn ceil_to_10_minutes(epoch_seconds: i64) -> i64 {
    let r = epoch_seconds.rem_euclid(600);
    if r == 0 {
        epoch_seconds
    } else {
        epoch_seconds.saturating_add(600 - r)
    }
}

/// Rounds an instant in milliseconds up to the next 10 minutes, in seconds since the epoch.
pub(crate) fn ceil_millis_to_10_minutes(epoch_millis: i64) -> i64 {
    // ceil(ceil(ms / 1000) / 600) == ceil(ms / 600_000)
    let secs = epoch_millis.div_euclid(1000) + i64::from(epoch_millis.rem_euclid(1000) != 0);
    ceil_to_10_minutes(secs)
}

/// Density (inhabitants/km²) above which positions keep 3 decimals instead of 2.
pub const DENSE_COMMUNE_THRESHOLD: f64 = 40.0;

/// The number of decimals kept for a position in a commune of `density` inhabitants/km²: 3 when
/// the density is above 40, else 2 (an unknown density counts as sparse).
///
/// # Examples
///
/// ```
/// use export_core::privacy::position_decimals;
/// assert_eq!(position_decimals(Some(20_000.0)), 3);
/// assert_eq!(position_decimals(Some(40.0)), 2);
/// assert_eq!(position_decimals(None), 2);
/// ```
pub fn position_decimals(density: Option<f64>) -> u32 {
    match density {
        Some(d) if d > DENSE_COMMUNE_THRESHOLD => 3,
        _ => 2,
    }
}

/// Truncates (never rounds) a coordinate to the decimals allowed by its commune's density
/// ([`position_decimals`]): toward zero, so `-1.23456` becomes `-1.234`.
///
/// Values whose binary representation falls just short of a decimal (`48.857` stored as
/// `48.85699999…`) keep that decimal: a scaled value within `1e-7` of an integer is taken as that
/// integer. NaN and infinities are returned unchanged.
///
/// # Examples
///
/// ```
/// use export_core::privacy::truncate_coordinate;
/// assert_eq!(truncate_coordinate(48.8566999, Some(21_000.0)), 48.856);
/// assert_eq!(truncate_coordinate(48.8566999, Some(12.0)), 48.85);
/// assert_eq!(truncate_coordinate(-1.23456, Some(100.0)), -1.234);
/// assert_eq!(truncate_coordinate(48.857, Some(100.0)), 48.857);
/// ```
pub fn truncate_coordinate(value: f64, density: Option<f64>) -> f64 {
    truncate_to(value, position_decimals(density))
}

fn truncate_to(value: f64, decimals: u32) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let factor = 10f64.powi(decimals as i32);
    let scaled = value * factor;
    let nearest = scaled.round();
    let kept = if (scaled - nearest).abs() < 1e-7 {
        nearest
    } else {
        scaled.trunc()
    };
    // `+ 0.0` turns -0.0 into 0.0.
    kept / factor + 0.0
}

/// A keyed hasher of operator trip ids: the HMAC state is keyed once and cloned per id.
#[derive(Clone)]
pub(crate) struct TripIdHasher {
    mac: Hmac<Sha256>,
}

impl TripIdHasher {
    pub(crate) fn new(key: &[u8]) -> TripIdHasher {
        // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        TripIdHasher { mac }
    }

    /// Writes the 64 lower-case hex digits of the id's HMAC into `out`.
    pub(crate) fn hash_into<'a>(&self, id: &str, out: &'a mut [u8; 64]) -> &'a str {
        let digest = self.mac.clone().chain_update(id.as_bytes()).finalize();
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(digest.into_bytes(), out);
        std::str::from_utf8(out).unwrap_or_default()
    }
}

/// The opendata `trip_id`: HMAC-SHA256 of the operator's trip id under `key`, as 64 lower-case
/// hex digits. Keyed, so that hashing known operator ids does not reveal which row is which;
/// keep the key secret and stable to keep ids stable across monthly files.
///
/// # Examples
///
/// ```
/// use export_core::privacy::keyed_trip_id;
/// // RFC 4231 test case 2.
/// assert_eq!(
///     keyed_trip_id(b"Jefe", "what do ya want for nothing?"),
///     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
/// );
/// ```
pub fn keyed_trip_id(key: &[u8], operator_trip_id: &str) -> String {
    let mut out = [0u8; 64];
    TripIdHasher::new(key)
        .hash_into(operator_trip_id, &mut out)
        .to_string()
}

/// Counts of trips per INSEE code (start or end), for rule 1.
///
/// A trip counts once for each distinct code it touches (a trip from and to the same commune
/// counts once for it). Null codes are not counted and never cause a removal: a trip without
/// a commune has no zone to reveal. Memory grows with the number of distinct codes (about 35,000
/// communes), not with the number of rows.
///
/// # Examples
///
/// ```
/// use export_core::privacy::ZoneCounts;
/// let mut counts = ZoneCounts::new();
/// counts.add("75056", 10);
/// counts.add("75056", 2);
/// assert_eq!(counts.get("75056"), 12);
/// assert_eq!(counts.get("01001"), 0);
/// assert_eq!(counts.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneCounts {
    counts: HashMap<String, u64>,
    trips: u64,
}

impl ZoneCounts {
    /// No counts yet.
    pub fn new() -> ZoneCounts {
        ZoneCounts::default()
    }

    /// Adds `trips` trips to `insee`'s count (counts supplied by a source).
    pub fn add(&mut self, insee: &str, trips: u64) {
        match self.counts.get_mut(insee) {
            Some(c) => *c += trips,
            None => {
                self.counts.insert(insee.to_string(), trips);
            }
        }
    }

    /// Counts the trips of a batch holding `start_insee` and `end_insee` columns (canonical input
    /// schema, strings).
    ///
    /// # Errors
    ///
    /// [`ExportError::MissingColumn`] or [`ExportError::ColumnType`] when a column is absent or
    /// not a string.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{RecordBatch, StringArray};
    /// use export_core::privacy::ZoneCounts;
    ///
    /// let batch = RecordBatch::try_from_iter([
    ///     ("start_insee", Arc::new(StringArray::from(vec![Some("75056"), Some("75056"), None])) as _),
    ///     ("end_insee", Arc::new(StringArray::from(vec![Some("75056"), Some("92012"), Some("92012")])) as _),
    /// ]).unwrap();
    /// let mut counts = ZoneCounts::new();
    /// counts.observe(&batch).unwrap();
    /// assert_eq!(counts.get("75056"), 2);
    /// assert_eq!(counts.get("92012"), 2);
    /// assert_eq!(counts.trips(), 3);
    /// ```
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        let (start, end) = insee_columns(batch)?;
        let (start, end) = (start.as_string::<i32>(), end.as_string::<i32>());
        for i in 0..batch.num_rows() {
            let s = start.is_valid(i).then(|| start.value(i));
            let e = end.is_valid(i).then(|| end.value(i));
            if let Some(s) = s {
                self.add(s, 1);
            }
            if let Some(e) = e
                && Some(e) != s
            {
                self.add(e, 1);
            }
        }
        self.trips += batch.num_rows() as u64;
        Ok(())
    }

    /// Trips of `insee` (0 when never seen).
    pub fn get(&self, insee: &str) -> u64 {
        self.counts.get(insee).copied().unwrap_or(0)
    }

    /// Number of distinct codes counted.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// True when no code was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Trips observed with [`ZoneCounts::observe`].
    pub fn trips(&self) -> u64 {
        self.trips
    }

    /// Number of codes below `threshold` trips.
    pub fn rare_zones(&self, threshold: u64) -> usize {
        self.counts.values().filter(|c| **c < threshold).count()
    }
}

fn insee_columns(batch: &RecordBatch) -> Result<(ArrayRef, ArrayRef)> {
    let get = |name: &str| -> Result<ArrayRef> {
        let array = batch
            .column_by_name(name)
            .ok_or_else(|| ExportError::MissingColumn {
                column: name.to_string(),
                expected: DataType::Utf8.to_string(),
            })?;
        coerce(name, array, &DataType::Utf8)
    };
    Ok((get(field::START_INSEE)?, get(field::END_INSEE)?))
}

/// Drops the trips whose start or end INSEE code occurs in fewer than `threshold` trips of
/// `counts` (rule 1); returns the kept rows and the number removed. `threshold` 0 or 1 keeps
/// every trip that was counted.
///
/// The batch is in the canonical input schema (it needs `start_insee` and `end_insee`): apply
/// this before [`crate::schema::trip::derive`].
///
/// # Errors
///
/// [`ExportError::MissingColumn`] or [`ExportError::ColumnType`] for the INSEE columns;
/// [`ExportError::Arrow`] if filtering fails.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{RecordBatch, StringArray};
/// use export_core::privacy::{ZoneCounts, drop_rare_zones};
///
/// let batch = RecordBatch::try_from_iter([
///     ("start_insee", Arc::new(StringArray::from(vec!["75056", "75056", "01001"])) as _),
///     ("end_insee", Arc::new(StringArray::from(vec!["75056", "92012", "75056"])) as _),
/// ]).unwrap();
/// let mut counts = ZoneCounts::new();
/// counts.add("75056", 10);
/// counts.add("92012", 6);
/// counts.add("01001", 5);
/// let (kept, removed) = drop_rare_zones(&batch, &counts, 6).unwrap();
/// assert_eq!((kept.num_rows(), removed), (2, 1));
/// ```
pub fn drop_rare_zones(
    batch: &RecordBatch,
    counts: &ZoneCounts,
    threshold: u64,
) -> Result<(RecordBatch, usize)> {
    let (start, end) = insee_columns(batch)?;
    let (start, end): (&StringArray, &StringArray) =
        (start.as_string::<i32>(), end.as_string::<i32>());
    let rare = |a: &StringArray, i: usize| a.is_valid(i) && counts.get(a.value(i)) < threshold;
    let mut keep = BooleanBufferBuilder::new(batch.num_rows());
    let mut removed = 0usize;
    for i in 0..batch.num_rows() {
        let drop = rare(start, i) || rare(end, i);
        removed += usize::from(drop);
        keep.append(!drop);
    }
    if removed == 0 {
        return Ok((batch.clone(), 0));
    }
    let mask = BooleanArray::new(keep.finish(), None);
    Ok((
        arrow_select::filter::filter_record_batch(batch, &mask)?,
        removed,
    ))
}

/// What the opendata privacy rules did to an export (rule 5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrivacyReport {
    /// Trips written to the file.
    pub exposed: u64,
    /// Trips removed because their start or end commune is rare (rule 1).
    pub removed_rare_zones: u64,
    /// The rule 1 threshold used.
    pub threshold: u64,
    /// Distinct INSEE codes counted.
    pub zones: u64,
    /// Distinct INSEE codes below the threshold.
    pub rare_zones: u64,
}

/// Rule 1 applied batch after batch with a running [`PrivacyReport`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{RecordBatch, StringArray};
/// use export_core::privacy::{RareZoneFilter, ZoneCounts};
///
/// let batch = RecordBatch::try_from_iter([
///     ("start_insee", Arc::new(StringArray::from(vec!["75056", "01001"])) as _),
///     ("end_insee", Arc::new(StringArray::from(vec!["75056", "75056"])) as _),
/// ]).unwrap();
/// let mut counts = ZoneCounts::new();
/// counts.observe(&batch).unwrap();
/// let mut filter = RareZoneFilter::new(counts, 2);
/// let kept = filter.apply(&batch).unwrap();
/// assert_eq!(kept.num_rows(), 1);
/// let report = filter.report();
/// assert_eq!((report.exposed, report.removed_rare_zones), (1, 1));
/// ```
#[derive(Debug, Clone)]
pub struct RareZoneFilter {
    counts: ZoneCounts,
    report: PrivacyReport,
}

impl RareZoneFilter {
    /// A filter dropping codes with fewer than `threshold` trips in `counts`.
    pub fn new(counts: ZoneCounts, threshold: u64) -> RareZoneFilter {
        let report = PrivacyReport {
            threshold,
            zones: counts.len() as u64,
            rare_zones: counts.rare_zones(threshold) as u64,
            ..PrivacyReport::default()
        };
        RareZoneFilter { counts, report }
    }

    /// Drops the rare-zone trips of `batch` and counts what was kept and removed.
    ///
    /// # Errors
    ///
    /// As [`drop_rare_zones`].
    pub fn apply(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let (kept, removed) = drop_rare_zones(batch, &self.counts, self.report.threshold)?;
        self.report.removed_rare_zones += removed as u64;
        self.report.exposed += kept.num_rows() as u64;
        Ok(kept)
    }

    /// The report so far.
    pub fn report(&self) -> PrivacyReport {
        self.report
    }
}

/// The first pass of rule 1: counts zones while spooling batches to a temporary Arrow IPC file,
/// then replays them (see the module documentation).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{RecordBatch, StringArray};
/// use export_core::privacy::ZoneSpool;
///
/// let batch = RecordBatch::try_from_iter([
///     ("start_insee", Arc::new(StringArray::from(vec!["75056"])) as _),
///     ("end_insee", Arc::new(StringArray::from(vec!["92012"])) as _),
/// ]).unwrap();
/// let mut spool = ZoneSpool::new(batch.schema()).unwrap();
/// spool.push(&batch).unwrap();
/// spool.push(&batch).unwrap();
/// let (counts, replay) = spool.finish().unwrap();
/// assert_eq!(counts.get("75056"), 2);
/// let rows: usize = replay.map(|b| b.unwrap().num_rows()).sum();
/// assert_eq!(rows, 2);
/// ```
pub struct ZoneSpool {
    writer: arrow_ipc::writer::FileWriter<BufWriter<File>>,
    counts: ZoneCounts,
}

impl ZoneSpool {
    /// A spool in a new anonymous temporary file (deleted when the replay is dropped).
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] when the temporary file cannot be created; [`ExportError::Arrow`].
    pub fn new(schema: SchemaRef) -> Result<ZoneSpool> {
        let file = tempfile::tempfile()?;
        let writer = arrow_ipc::writer::FileWriter::try_new(BufWriter::new(file), &schema)?;
        Ok(ZoneSpool {
            writer,
            counts: ZoneCounts::new(),
        })
    }

    /// Counts a batch's zones and appends it to the spool.
    ///
    /// # Errors
    ///
    /// As [`ZoneCounts::observe`]; [`ExportError::Arrow`] or [`ExportError::Io`] on write.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        self.counts.observe(batch)?;
        self.writer.write(batch)?;
        Ok(())
    }

    /// Ends the first pass: the counts, and the spooled batches in their original order.
    ///
    /// # Errors
    ///
    /// [`ExportError::Arrow`] or [`ExportError::Io`] when the spool cannot be completed or read.
    pub fn finish(
        mut self,
    ) -> Result<(ZoneCounts, arrow_ipc::reader::FileReader<BufReader<File>>)> {
        self.writer.finish()?;
        let mut file = self
            .writer
            .into_inner()?
            .into_inner()
            .map_err(|e| ExportError::from(e.into_error()))?;
        file.seek(SeekFrom::Start(0))?;
        let reader = arrow_ipc::reader::FileReader::try_new(BufReader::new(file), None)?;
        Ok((self.counts, reader))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn ceil_rounds_up_to_ten_minutes() {
        assert_eq!(ceil_to_10_minutes(0), 0);
        assert_eq!(ceil_to_10_minutes(1), 600);
        assert_eq!(ceil_to_10_minutes(599), 600);
        assert_eq!(ceil_to_10_minutes(600), 600);
        assert_eq!(ceil_to_10_minutes(601), 1200);
        assert_eq!(ceil_to_10_minutes(-599), 0);
        assert_eq!(ceil_to_10_minutes(-600), -600);
        assert_eq!(ceil_to_10_minutes(i64::MAX), i64::MAX);
        assert_eq!(ceil_millis_to_10_minutes(600_000), 600);
        assert_eq!(ceil_millis_to_10_minutes(600_001), 1200);
        assert_eq!(ceil_millis_to_10_minutes(1), 600);
        assert_eq!(ceil_millis_to_10_minutes(-1), 0);
    }

    #[test]
    fn truncation_is_toward_zero_and_exact() {
        assert_eq!(truncate_coordinate(48.8566999, Some(41.0)), 48.856);
        assert_eq!(truncate_coordinate(48.8566999, Some(40.0)), 48.85);
        assert_eq!(truncate_coordinate(2.3522219, Some(20_000.0)), 2.352);
        assert_eq!(truncate_coordinate(-1.5536999, Some(100.0)), -1.553);
        assert_eq!(truncate_coordinate(-1.5599, None), -1.55);
        assert_eq!(truncate_coordinate(-0.001, None), 0.0);
        assert!(truncate_coordinate(-0.001, None).is_sign_positive());
        // Decimals whose binary form is just below them stay.
        for v in [48.857, 0.3, 2.35, -4.479, 1.005] {
            let d = if v == 2.35 { None } else { Some(1000.0) };
            let expected = v;
            assert_eq!(truncate_coordinate(v, d), expected, "{v}");
        }
        assert!(truncate_coordinate(f64::NAN, None).is_nan());
    }

    #[test]
    fn keyed_ids_depend_on_key() {
        let a = keyed_trip_id(b"key-a", "trip-1");
        let b = keyed_trip_id(b"key-b", "trip-1");
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(a, keyed_trip_id(b"key-a", "trip-1"));
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    fn zones(start: Vec<Option<&str>>, end: Vec<Option<&str>>) -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "start_insee",
                Arc::new(StringArray::from(start)) as ArrayRef,
            ),
            ("end_insee", Arc::new(StringArray::from(end)) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn rare_zones_are_dropped_on_start_or_end() {
        // 6 trips inside 75056, one 75056 → 01001, one 01001 → 75056, one without codes.
        let mut start = vec![Some("75056"); 6];
        let mut end = vec![Some("75056"); 6];
        start.extend([Some("75056"), Some("01001"), None]);
        end.extend([Some("01001"), Some("75056"), None]);
        let batch = zones(start, end);
        let mut counts = ZoneCounts::new();
        counts.observe(&batch).unwrap();
        assert_eq!(counts.get("75056"), 8);
        assert_eq!(counts.get("01001"), 2);
        let (kept, removed) = drop_rare_zones(&batch, &counts, 6).unwrap();
        assert_eq!(removed, 2);
        assert_eq!(kept.num_rows(), 7);
        let (kept, removed) = drop_rare_zones(&batch, &counts, 2).unwrap();
        assert_eq!((kept.num_rows(), removed), (9, 0));
        let (_, removed) = drop_rare_zones(&batch, &counts, 9).unwrap();
        assert_eq!(removed, 8);
    }

    #[test]
    fn missing_insee_column_is_reported() {
        let batch = RecordBatch::try_from_iter([(
            "start_insee",
            Arc::new(StringArray::from(vec!["1"])) as ArrayRef,
        )])
        .unwrap();
        let err = ZoneCounts::new().observe(&batch).unwrap_err();
        assert_eq!(err.code(), "MISSING_COLUMN");
    }

    #[test]
    fn spool_replays_in_order_and_reports() {
        let b1 = zones(vec![Some("a"); 3], vec![Some("b"); 3]);
        let b2 = zones(vec![Some("c")], vec![Some("a")]);
        let mut spool = ZoneSpool::new(b1.schema()).unwrap();
        spool.push(&b1).unwrap();
        spool.push(&b2).unwrap();
        let (counts, replay) = spool.finish().unwrap();
        assert_eq!(counts.trips(), 4);
        let mut filter = RareZoneFilter::new(counts, 2);
        let mut rows = Vec::new();
        for b in replay {
            rows.push(filter.apply(&b.unwrap()).unwrap().num_rows());
        }
        assert_eq!(rows, [3, 0]);
        let report = filter.report();
        assert_eq!(report.exposed, 3);
        assert_eq!(report.removed_rare_zones, 1);
        assert_eq!(report.zones, 3);
        assert_eq!(report.rare_zones, 1);
    }
}
