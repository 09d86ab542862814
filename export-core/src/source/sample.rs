//! A deterministic generator of realistic sample trips, for the CLI, tests and benchmarks.

mod communes;

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, ListArray, RecordBatch, StringArray, StructArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, FieldRef, SchemaRef};
use chrono::{DateTime, Offset, TimeZone, Utc};

use crate::error::{ExportError, Result};
use crate::request::Period;
use crate::schema::trip::{field, incentive_struct, input_schema, rpc_incentive_struct};
use crate::source::Source;
use crate::temporal::DEFAULT_TIME_ZONE;

use communes::{CAMPAIGNS, COMMUNES, OPERATORS, RARE_WEIGHT};

/// One commune of the built-in table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Commune {
    /// INSEE code (`75056`).
    pub insee: &'static str,
    /// Name (`Paris`).
    pub name: &'static str,
    /// Département code (`75`, `2A`).
    pub departement: &'static str,
    /// EPCI (group of communes) name.
    pub epci: &'static str,
    /// Mobility authority (AOM) name.
    pub aom: &'static str,
    /// Region name.
    pub region: &'static str,
    /// Country name (`France`).
    pub country: &'static str,
    /// Inhabitants per km².
    pub density: f64,
    /// Latitude of the town centre (WGS84).
    pub lat: f64,
    /// Longitude of the town centre (WGS84).
    pub lon: f64,
    /// Relative weight as a trip end.
    pub weight: u32,
    /// Commuting basin (communes of one basin exchange most of their trips).
    basin: u8,
}

impl Commune {
    /// True for the few communes drawn so rarely that small exports see them in fewer than 6
    /// trips (the opendata rare-zone threshold).
    pub fn is_rare(&self) -> bool {
        self.weight <= RARE_WEIGHT
    }
}

/// What to generate. Build it with a struct literal and `..Default::default()`.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use export_core::source::SampleConfig;
///
/// let config = SampleConfig {
///     rows: 10_000,
///     seed: 7,
///     start: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
///     end: Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
///     ..Default::default()
/// };
/// assert_eq!(config.batch_size, 8192);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleConfig {
    /// Number of trips (journeys) to generate.
    pub rows: u64,
    /// PRNG seed: the same seed gives the same trips.
    pub seed: u64,
    /// First instant of the period (included).
    pub start: DateTime<Utc>,
    /// End of the period (excluded).
    pub end: DateTime<Utc>,
    /// Rows per batch (default 8192).
    pub batch_size: usize,
}

impl Default for SampleConfig {
    /// 1000 trips, seed 0, October 2026 in UTC, batches of 8192 rows.
    fn default() -> Self {
        SampleConfig {
            rows: 1000,
            seed: 0,
            start: DateTime::from_timestamp(1_790_812_800, 0).unwrap_or_default(), // 2026-10-01
            end: DateTime::from_timestamp(1_793_491_200, 0).unwrap_or_default(),   // 2026-11-01
            batch_size: 8192,
        }
    }
}

/// The sample-trip generator: a [`Source`] of batches in [`input_schema`].
///
/// # Examples
///
/// ```
/// use export_core::source::{Source, SampleTrips};
///
/// let mut trips = SampleTrips::month(5_000, 42, 2026, 10).unwrap();
/// assert_eq!(trips.rows_hint(), Some(5_000));
/// let batch = trips.next_batch().unwrap().unwrap();
/// assert_eq!(batch.schema(), export_core::schema::trip::input_schema());
/// assert_eq!(batch.num_rows(), 5_000);
/// assert!(trips.next_batch().unwrap().is_none());
///
/// // Same seed, same trips.
/// let again = SampleTrips::month(5_000, 42, 2026, 10).unwrap().next_batch().unwrap().unwrap();
/// assert_eq!(batch, again);
/// ```
///
/// [`SampleTrips`] yields batches in exactly [`input_schema`], rows sorted by `start_at` and
/// spread over a period with more trips at commute hours and on weekdays. Trip ends are drawn
/// from a built-in table of real French communes ([`SampleTrips::communes`]): dense cities
/// (Paris, Lyon, Marseille...) and rural communes (density below 40 inhabitants/km², so both
/// opendata position precisions occur), plus a few rare ones ([`Commune::is_rare`]) that appear
/// in fewer than 6 trips in exports of about a thousand trips (so the rare-zone rule removes
/// something). Distances follow the haversine distance between the jittered positions,
/// durations follow distances, money follows distances.
///
/// Output depends only on the configuration: the generator uses its own PRNG (xoshiro256++
/// seeded by SplitMix64) and computes its trigonometry with polynomials, so the same seed gives
/// the same bytes on every platform and version of the standard library, and the same rows
/// whatever the batch size. Memory is one batch: rows are generated batch by batch, minute by
/// minute of the period.
pub struct SampleTrips {
    config: SampleConfig,
    schema: SchemaRef,
    produced: u64,
    clock: Clock,
    rng: Rng,
    person_salt: u64,
    /// The ride being split into several journeys (one per passenger).
    ride: Option<Ride>,
    /// Weighted pick tables: over every commune, then per basin.
    pick_all: Vec<u8>,
    pick_basin: Vec<Vec<u8>>,
    pick_operator: Vec<u8>,
    /// Cosine of each commune's latitude.
    cos_lat: Vec<f64>,
}

impl std::fmt::Debug for SampleTrips {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleTrips")
            .field("config", &self.config)
            .field("produced", &self.produced)
            .finish_non_exhaustive()
    }
}

impl SampleTrips {
    /// A generator for `config`.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidPeriod`] when `end` is not after `start`;
    /// [`ExportError::InvalidRequest`] on `batch_size` when it is 0.
    pub fn new(config: SampleConfig) -> Result<SampleTrips> {
        if config.end <= config.start {
            return Err(ExportError::InvalidPeriod(format!(
                "end {} is not after start {}",
                config.end.to_rfc3339(),
                config.start.to_rfc3339()
            )));
        }
        if config.batch_size == 0 {
            return Err(ExportError::request("batch_size", "must be at least 1"));
        }
        let mut seeder = SplitMix64(config.seed);
        let clock = Clock::new(
            config.start.timestamp_millis(),
            config.end.timestamp_millis(),
            config.rows,
            Rng::from_seed(seeder.next()),
        );
        let rng = Rng::from_seed(seeder.next());
        let person_salt = seeder.next();

        let pick_all = pick_table(COMMUNES.iter().map(|c| c.weight));
        let pick_basin = (0..communes::basin::COUNT as u8)
            .map(|b| {
                pick_table(
                    COMMUNES
                        .iter()
                        .map(|c| if c.basin == b { c.weight } else { 0 }),
                )
            })
            .collect();
        let pick_operator = pick_table(OPERATORS.iter().map(|o| o.weight));
        let cos_lat = COMMUNES.iter().map(|c| cos(c.lat.to_radians())).collect();
        Ok(SampleTrips {
            config,
            schema: input_schema(),
            produced: 0,
            clock,
            rng,
            person_salt,
            ride: None,
            pick_all,
            pick_basin,
            pick_operator,
            cos_lat,
        })
    }

    /// `rows` trips over one calendar month in `Europe/Paris` (from local midnight on the 1st
    /// to local midnight on the 1st of the next month), seed `seed`, batches of 8192 rows.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidRequest`] on `month` when it is not in `1..=12`, or
    /// [`ExportError::InvalidPeriod`] when the year is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::source::SampleTrips;
    /// let trips = SampleTrips::month(100, 1, 2026, 3).unwrap();
    /// assert_eq!(trips.config().start.to_rfc3339(), "2026-02-28T23:00:00+00:00");
    /// assert_eq!(trips.config().end.to_rfc3339(), "2026-03-31T22:00:00+00:00");
    /// ```
    pub fn month(rows: u64, seed: u64, year: i32, month: u32) -> Result<SampleTrips> {
        if !(1..=12).contains(&month) {
            return Err(ExportError::request(
                "month",
                format!("{month} is not a month number (1 to 12)"),
            ));
        }
        let (next_year, next_month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        let period = Period::parse(
            &format!("{year:04}-{month:02}-01"),
            &format!("{next_year:04}-{next_month:02}-01"),
            Some(DEFAULT_TIME_ZONE.name()),
        )?;
        SampleTrips::new(SampleConfig {
            rows,
            seed,
            start: period.start,
            end: period.end,
            batch_size: 8192,
        })
    }

    /// The configuration this generator runs with.
    pub fn config(&self) -> &SampleConfig {
        &self.config
    }

    /// The built-in communes trips are drawn from.
    ///
    /// # Examples
    ///
    /// ```
    /// use export_core::source::SampleTrips;
    /// let communes = SampleTrips::communes();
    /// assert!(communes.iter().any(|c| c.insee == "75056" && c.name == "Paris"));
    /// assert!(communes.iter().any(|c| c.density < 40.0));
    /// assert!(communes.iter().any(|c| c.is_rare()));
    /// ```
    pub fn communes() -> &'static [Commune] {
        COMMUNES
    }

    /// Draws a new ride starting at `start_ms`.
    fn new_ride(&mut self, start_ms: i64) -> Ride {
        let operator = pick(&mut self.rng, &self.pick_operator);
        let origin = pick(&mut self.rng, &self.pick_all);
        let destination = if self.rng.chance(0.94) {
            pick(
                &mut self.rng,
                &self.pick_basin[COMMUNES[origin].basin as usize],
            )
        } else {
            pick(&mut self.rng, &self.pick_all)
        };
        let (start_lat, start_lon) = self.jitter(origin);
        let (end_lat, end_lon) = self.jitter(destination);
        let straight = haversine_m(start_lat, start_lon, end_lat, end_lon);
        let road =
            (straight * (1.18 + 0.25 * self.rng.unit())).max(400.0 + 600.0 * self.rng.unit());
        let distance = road.round() as i64;
        let announced = (road * (0.92 + 0.16 * self.rng.unit())).round() as i64;
        let speed = match distance {
            d if d < 5_000 => 7.0,
            d if d < 20_000 => 11.0,
            d if d < 60_000 => 16.0,
            _ => 22.0,
        };
        let duration = ((road / speed) * (0.9 + 0.3 * self.rng.unit())).round() as i64 + 60;
        let duration_announced = (duration as f64 * (0.9 + 0.2 * self.rng.unit())).round() as i64;
        let status = pick_weighted(&STATUSES, self.rng.below(1000));
        let announced_known = !self.rng.chance(0.02);
        let driver = self.rng.below(self.config.rows / 8 + 20);
        let trip_key = self.rng.next_u64();
        let incentive_type = if self.rng.chance(0.1) {
            "booster"
        } else {
            "normal"
        };
        Ride {
            operator,
            passengers: 1,
            origin,
            destination,
            start_ms,
            end_ms: start_ms + duration * 1000,
            start_lat,
            start_lon,
            end_lat,
            end_lon,
            distance,
            announced: announced_known.then_some(announced),
            duration,
            duration_announced: announced_known.then_some(duration_announced),
            status,
            driver,
            trip_key,
            incentive_type,
            driver_card: self.rng.chance(0.08),
            cee: self.rng.chance(0.06),
        }
    }

    /// A position near a commune's centre, rounded to 6 decimals (about 10 cm).
    fn jitter(&mut self, commune: usize) -> (f64, f64) {
        let c = &COMMUNES[commune];
        let radius_km = if c.density < 40.0 { 1.5 } else { 3.0 };
        let dlat = (self.rng.unit() * 2.0 - 1.0) * radius_km / 111.2;
        let dlon = (self.rng.unit() * 2.0 - 1.0) * radius_km / (111.2 * self.cos_lat[commune]);
        (round6(c.lat + dlat), round6(c.lon + dlon))
    }

    fn push_journey(&mut self, b: &mut Builders, ride: &Ride, journey_id: i64) {
        let rng = &mut self.rng;
        let op = &OPERATORS[ride.operator];
        let origin = &COMMUNES[ride.origin];
        let destination = &COMMUNES[ride.destination];

        b.journey_id.append_value(journey_id);
        b.operator_trip_id.push(op.prefix.as_bytes());
        b.operator_trip_id.push(b"-t-");
        b.operator_trip_id.push(&hex16(ride.trip_key)[4..]);
        b.operator_trip_id.end();
        b.operator_journey_id.push(op.prefix.as_bytes());
        b.operator_journey_id.push(b"-j-");
        b.operator_journey_id
            .push(&hex16(mix(ride.trip_key ^ journey_id as u64))[4..]);
        b.operator_journey_id.end();
        b.trip_id
            .push(&uuid(mix(ride.trip_key ^ 0x7472_6970), mix(ride.trip_key)));
        b.trip_id.end();
        b.operator_id.append_value(op.id);
        b.operator.append_value(op.name);
        b.operator_class.append_value(op.class);
        b.status.append_value(ride.status);
        b.start_at.append_value(ride.start_ms);
        b.end_at.append_value(ride.end_ms);
        b.start_lat.append_value(ride.start_lat);
        b.start_lon.append_value(ride.start_lon);
        b.end_lat.append_value(ride.end_lat);
        b.end_lon.append_value(ride.end_lon);
        b.start.append(origin);
        b.end.append(destination);
        b.distance_m.append_value(ride.distance);
        b.distance_announced_m.append_option(ride.announced);
        b.distance_calculated_m.append_value(ride.distance);
        b.duration_s.append_value(ride.duration);
        b.duration_announced_s
            .append_option(ride.duration_announced);
        b.duration_calculated_s.append_value(ride.duration);

        let seats = match rng.below(100) {
            0..=84 => 1,
            85..=96 => 2,
            _ => 3,
        };
        b.passenger_seats.append_value(seats);
        match rng.below(100) {
            0..=1 => b.passenger_over_18.append_value(false),
            2 => b.passenger_over_18.append_null(),
            _ => b.passenger_over_18.append_value(true),
        }
        b.driver_card.append_value(ride.driver_card);
        b.passenger_card.append_value(rng.chance(0.12));

        let passenger = rng.below(self.config.rows / 4 + 50);
        let p_key = mix(self.person_salt ^ 0x5041_5353 ^ passenger.wrapping_mul(0x9E37_79B9));
        let d_key = mix(self.person_salt ^ 0x4452_4956 ^ ride.driver.wrapping_mul(0x9E37_79B9));
        b.operator_passenger_id.push(op.prefix.as_bytes());
        b.operator_passenger_id.push(b"-p-");
        b.operator_passenger_id.push(&hex16(p_key)[6..]);
        b.operator_passenger_id.end();
        b.operator_driver_id.push(op.prefix.as_bytes());
        b.operator_driver_id.push(b"-d-");
        b.operator_driver_id.push(&hex16(d_key)[6..]);
        b.operator_driver_id.end();
        for i in 1..=4u64 {
            b.passenger_identity_key
                .push(&hex16(mix(p_key.wrapping_add(i))));
            b.driver_identity_key
                .push(&hex16(mix(d_key.wrapping_add(i))));
        }
        b.passenger_identity_key.end();
        b.driver_identity_key.end();
        b.passenger_id
            .push(&uuid(mix(p_key ^ 0xA1), mix(p_key ^ 0xA2)));
        b.passenger_id.end();
        b.driver_id
            .push(&uuid(mix(d_key ^ 0xA1), mix(d_key ^ 0xA2)));
        b.driver_id.end();

        // Incentives: operator-paid ones, then the registry's campaigns.
        let km = ride.distance as f64 / 1000.0;
        let booster = if ride.incentive_type == "booster" {
            2
        } else {
            1
        };
        let mut passenger_incentives = 0i64;
        let mut driver_incentives = 0i64;
        let operator_count = match rng.below(100) {
            0..=59 => 0,
            60..=84 => 1,
            85..=94 => 2,
            _ => 3,
        };
        for _ in 0..operator_count {
            let to_driver = rng.chance(0.6);
            let amount = (20 + rng.below(180)) as i64;
            b.incentives.push(op.siret, op.name, amount, to_driver);
            if to_driver {
                driver_incentives += amount;
            } else {
                passenger_incentives += amount;
            }
        }
        b.incentives.end_list();
        let rpc_count = match rng.below(100) {
            0..=49 => 0,
            50..=89 => 1,
            _ => 2,
        };
        for n in 0..rpc_count {
            let campaign = if n == 1 && ride.cee {
                &CAMPAIGNS[CAMPAIGNS.len() - 1]
            } else {
                &CAMPAIGNS[origin.basin as usize]
            };
            let to_driver = n == 0 || rng.chance(0.3);
            let amount = ((km * 10.0).round() as i64).clamp(50, 300) * booster;
            let status = match rng.below(100) {
                0..=86 => "validated",
                87..=95 => "pending",
                _ => "canceled",
            };
            b.rpc_incentives.push(campaign, amount, to_driver, status);
            if status == "validated" {
                if to_driver {
                    driver_incentives += amount;
                } else {
                    passenger_incentives += amount;
                }
            }
        }
        b.rpc_incentives.end_list();

        let cost = (km * 8.0).round() as i64 * seats as i64;
        let contribution = (cost - passenger_incentives).max(0);
        b.passenger_contribution_cents.append_value(contribution);
        b.driver_revenue_cents
            .append_value(contribution + driver_incentives);
        b.cee_application.append_value(ride.cee);
        b.incentive_type.append_value(ride.incentive_type);
    }
}

impl Source for SampleTrips {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch of at most `batch_size` trips, sorted by `start_at`.
    ///
    /// # Errors
    ///
    /// [`ExportError::Arrow`] only if the batch could not be assembled, which would be a bug.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let remaining = self.config.rows - self.produced;
        if remaining == 0 {
            return Ok(None);
        }
        let n = remaining.min(self.config.batch_size as u64) as usize;
        let mut b = Builders::with_capacity(n);
        for _ in 0..n {
            let start_ms = self.clock.next_time();
            let journey_id = self.produced as i64 + 1;
            // A ride carries one or more passengers: the extra ones are the next journeys, at
            // the same instant (no later than the next drawn time, so order is kept).
            let ride = match self.ride.take() {
                Some(mut ride) => {
                    ride.passengers += 1;
                    ride
                }
                None => self.new_ride(start_ms),
            };
            self.push_journey(&mut b, &ride, journey_id);
            if ride.passengers < 3 && self.rng.chance(0.15) {
                self.ride = Some(ride);
            }
            self.produced += 1;
        }
        Ok(Some(b.finish(&self.schema)?))
    }

    fn rows_hint(&self) -> Option<u64> {
        Some(self.config.rows)
    }
}

/// The trip-level values shared by the journeys of one ride.
#[derive(Debug, Clone)]
struct Ride {
    operator: usize,
    /// Journeys (passengers) generated so far for this ride.
    passengers: u8,
    origin: usize,
    destination: usize,
    start_ms: i64,
    end_ms: i64,
    start_lat: f64,
    start_lon: f64,
    end_lat: f64,
    end_lon: f64,
    distance: i64,
    announced: Option<i64>,
    duration: i64,
    duration_announced: Option<i64>,
    status: &'static str,
    driver: u64,
    trip_key: u64,
    incentive_type: &'static str,
    driver_card: bool,
    cee: bool,
}

/// Trip statuses with weights out of 1000.
static STATUSES: [(&str, u64); 8] = [
    ("ok", 900),
    ("canceled", 30),
    ("pending", 20),
    ("anomaly_error", 15),
    ("fraud_error", 10),
    ("terms_violation_error", 10),
    ("acquisition_error", 10),
    ("unknown", 5),
];

fn pick_weighted(table: &[(&'static str, u64)], mut draw: u64) -> &'static str {
    for &(value, weight) in table {
        if draw < weight {
            return value;
        }
        draw -= weight;
    }
    table[0].0
}

/// A lookup table in which index `i` appears `weight(i)` times: a uniform draw in it is a
/// weighted draw of an index.
fn pick_table(weights: impl Iterator<Item = u32>) -> Vec<u8> {
    let mut table = Vec::new();
    for (i, w) in weights.enumerate() {
        table.extend(std::iter::repeat_n(i as u8, w as usize));
    }
    table
}

/// A weighted draw of an index from a table made by [`pick_table`].
fn pick(rng: &mut Rng, table: &[u8]) -> usize {
    table[rng.below(table.len() as u64) as usize] as usize
}

// ---------------------------------------------------------------------------------------------
// Time: how many trips start in each minute of the period, and when.

/// Relative trip counts per local hour (commute peaks at 7–9 and 17–19).
const HOUR_WEIGHT: [u64; 24] = [
    2, 1, 1, 1, 2, 6, 22, 60, 70, 35, 20, 20, 24, 24, 20, 22, 35, 65, 62, 32, 15, 8, 5, 3,
];
/// Relative trip counts per local weekday, Monday first.
const WEEKDAY_WEIGHT: [u64; 7] = [10, 10, 10, 10, 9, 5, 3];

const MINUTE_MS: i64 = 60_000;

/// Spreads `rows` start instants over `[start, end)`: each UTC minute gets its share of the
/// rows by its local hour and weekday weight (integer arithmetic, so the shares add up to
/// `rows` exactly), and the instants of a minute are drawn uniformly then sorted.
struct Clock {
    start_ms: i64,
    end_ms: i64,
    rows: u64,
    total_weight: u128,
    cum_weight: u128,
    assigned: u64,
    slot_start: i64,
    pending: Vec<i64>,
    next: usize,
    rng: Rng,
    cached_hour: i64,
    cached_weight: u64,
}

impl Clock {
    fn new(start_ms: i64, end_ms: i64, rows: u64, rng: Rng) -> Clock {
        let mut clock = Clock {
            start_ms,
            end_ms,
            rows,
            total_weight: 0,
            cum_weight: 0,
            assigned: 0,
            slot_start: start_ms,
            pending: Vec::new(),
            next: 0,
            rng,
            cached_hour: i64::MIN,
            cached_weight: 0,
        };
        let mut total = 0u128;
        let mut slot = start_ms;
        while slot < end_ms {
            let (w, next) = clock.slot_weight(slot);
            total += w;
            slot = next;
        }
        // A period whose every hour weighs 0 cannot happen (no weight is 0), but stay safe.
        clock.total_weight = total.max(1);
        clock
    }

    /// The weight of the slot starting at `slot` (up to the next UTC minute or the end) and
    /// the start of the next slot.
    fn slot_weight(&mut self, slot: i64) -> (u128, i64) {
        let next = ((slot.div_euclid(MINUTE_MS) + 1) * MINUTE_MS).min(self.end_ms);
        let hour = slot.div_euclid(3_600_000);
        if hour != self.cached_hour {
            self.cached_hour = hour;
            self.cached_weight = local_weight(hour * 3_600_000);
        }
        ((next - slot) as u128 * self.cached_weight as u128, next)
    }

    fn next_time(&mut self) -> i64 {
        while self.next == self.pending.len() {
            if self.slot_start >= self.end_ms {
                // Only reached when asked for more rows than configured; stay in the period.
                return self.end_ms - 1;
            }
            let slot = self.slot_start;
            let (w, next) = self.slot_weight(slot);
            self.cum_weight += w;
            let target = (self.rows as u128 * self.cum_weight / self.total_weight) as u64;
            let count = target - self.assigned;
            self.assigned = target;
            self.pending.clear();
            let len = (next - slot) as u64;
            for _ in 0..count {
                self.pending.push(slot + self.rng.below(len) as i64);
            }
            self.pending.sort_unstable();
            self.next = 0;
            self.slot_start = next;
        }
        let t = self.pending[self.next];
        self.next += 1;
        debug_assert!(t >= self.start_ms && t < self.end_ms);
        t
    }
}

/// The weight of the UTC hour starting at `hour_ms`, by its local hour and weekday in Paris.
fn local_weight(hour_ms: i64) -> u64 {
    let secs = hour_ms.div_euclid(1000);
    let offset = DateTime::from_timestamp(secs, 0)
        .map(|t| {
            DEFAULT_TIME_ZONE
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc() as i64
        })
        .unwrap_or(0);
    let local = secs + offset;
    let hour = local.div_euclid(3600).rem_euclid(24) as usize;
    // 1970-01-01 was a Thursday (index 3 from Monday).
    let weekday = (local.div_euclid(86_400) + 3).rem_euclid(7) as usize;
    HOUR_WEIGHT[hour] * WEEKDAY_WEIGHT[weekday]
}

// ---------------------------------------------------------------------------------------------
// Random numbers and deterministic arithmetic.

/// SplitMix64, used to seed and to hash.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
}

/// The SplitMix64 finaliser: a good 64-bit hash of `z`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++.
struct Rng([u64; 4]);

impl Rng {
    fn from_seed(seed: u64) -> Rng {
        let mut s = SplitMix64(seed);
        Rng([s.next(), s.next(), s.next(), s.next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, n)` (Lemire's multiply-shift; the bias is below 2^-40 for our `n`).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `[0, 1)`, 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Cosine by its Taylor series (|x| ≤ 1.6): only IEEE basic operations, so every platform
/// computes the same bits (the standard library's `cos` comes from the platform's libm).
fn cos(x: f64) -> f64 {
    let x2 = x * x;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..=12 {
        let k = k as f64;
        term *= -x2 / ((2.0 * k - 1.0) * (2.0 * k));
        sum += term;
    }
    sum
}

/// Sine by its Taylor series, for the small angles of haversine (|x| ≤ 0.2).
fn sin_small(x: f64) -> f64 {
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    for k in 1..=6 {
        let k = k as f64;
        term *= -x2 / ((2.0 * k) * (2.0 * k + 1.0));
        sum += term;
    }
    sum
}

/// Arc sine by its series, for the small values of haversine (x ≤ 0.2).
fn asin_small(x: f64) -> f64 {
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    for n in 1..=10 {
        let n = n as f64;
        // term_n = term_{n-1} * (2n-1)^2 / ((2n)(2n+1)) * x^2
        term *= (2.0 * n - 1.0) * (2.0 * n - 1.0) / ((2.0 * n) * (2.0 * n + 1.0)) * x2;
        sum += term;
    }
    sum
}

/// Great-circle distance in metres (haversine), for points of metropolitan France.
fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dlat = p2 - p1;
    let dlon = (lon2 - lon1).to_radians();
    let s1 = sin_small(dlat / 2.0);
    let s2 = sin_small(dlon / 2.0);
    let a = s1 * s1 + cos(p1) * cos(p2) * s2 * s2;
    2.0 * EARTH_RADIUS_M * asin_small(a.sqrt())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A text column without nulls, written in place: identifiers are formatted straight into the
/// values buffer (fixed-size pieces, so no per-piece call), and the whole buffer is validated
/// as UTF-8 once per batch.
struct Utf8Col {
    offsets: Vec<i32>,
    values: Vec<u8>,
}

impl Utf8Col {
    fn with_capacity(items: usize, bytes: usize) -> Utf8Col {
        let mut offsets = Vec::with_capacity(items + 1);
        offsets.push(0);
        Utf8Col {
            offsets,
            values: Vec::with_capacity(bytes),
        }
    }

    /// Appends a whole value.
    fn append_value(&mut self, value: &str) {
        self.values.extend_from_slice(value.as_bytes());
        self.end();
    }

    /// Appends bytes to the value being written.
    fn push(&mut self, bytes: &[u8]) {
        self.values.extend_from_slice(bytes);
    }

    /// Ends the value being written.
    fn end(&mut self) {
        self.offsets.push(self.values.len() as i32);
    }

    fn finish(self) -> Result<ArrayRef> {
        Ok(Arc::new(StringArray::try_new(
            OffsetBuffer::new(self.offsets.into()),
            self.values.into(),
            None,
        )?))
    }
}

/// The 16 hex digits of `value`, most significant first.
fn hex16(value: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, pair) in out.chunks_exact_mut(2).enumerate() {
        let byte = (value >> (56 - 8 * i)) as u8;
        pair[0] = HEX[(byte >> 4) as usize];
        pair[1] = HEX[(byte & 0xF) as usize];
    }
    out
}

/// The text of a version-4, variant-1 UUID made of the bits of `hi` and `lo`.
fn uuid(hi: u64, lo: u64) -> [u8; 36] {
    let hi = hex16((hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000);
    let lo = hex16((lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000);
    let mut out = [b'-'; 36];
    out[0..8].copy_from_slice(&hi[0..8]);
    out[9..13].copy_from_slice(&hi[8..12]);
    out[14..18].copy_from_slice(&hi[12..16]);
    out[19..23].copy_from_slice(&lo[0..4]);
    out[24..36].copy_from_slice(&lo[4..16]);
    out
}

// ---------------------------------------------------------------------------------------------
// Column builders.

/// The geography columns of one trip end.
struct Geo {
    insee: Utf8Col,
    commune: Utf8Col,
    departement: Utf8Col,
    epci: Utf8Col,
    aom: Utf8Col,
    region: Utf8Col,
    pays: Utf8Col,
    density: Float64Builder,
}

impl Geo {
    fn with_capacity(n: usize) -> Geo {
        Geo {
            insee: Utf8Col::with_capacity(n, n * 5),
            commune: Utf8Col::with_capacity(n, n * 12),
            departement: Utf8Col::with_capacity(n, n * 2),
            epci: Utf8Col::with_capacity(n, n * 24),
            aom: Utf8Col::with_capacity(n, n * 24),
            region: Utf8Col::with_capacity(n, n * 16),
            pays: Utf8Col::with_capacity(n, n * 6),
            density: Float64Builder::with_capacity(n),
        }
    }

    fn append(&mut self, c: &Commune) {
        self.insee.append_value(c.insee);
        self.commune.append_value(c.name);
        self.departement.append_value(c.departement);
        self.epci.append_value(c.epci);
        self.aom.append_value(c.aom);
        self.region.append_value(c.region);
        self.pays.append_value(c.country);
        self.density.append_value(c.density);
    }

    fn finish(
        mut self,
        out: &mut Vec<(&'static str, ArrayRef)>,
        names: [&'static str; 8],
    ) -> Result<()> {
        out.push((names[0], self.insee.finish()?));
        out.push((names[1], self.commune.finish()?));
        out.push((names[2], self.departement.finish()?));
        out.push((names[3], self.epci.finish()?));
        out.push((names[4], self.aom.finish()?));
        out.push((names[5], self.region.finish()?));
        out.push((names[6], self.pays.finish()?));
        out.push((names[7], Arc::new(self.density.finish())));
        Ok(())
    }
}

/// A `List<Struct{siret, name, amount_cents, beneficiary}>` column.
struct IncentiveList {
    offsets: Vec<i32>,
    siret: Utf8Col,
    name: Utf8Col,
    amount: Int64Builder,
    beneficiary: Utf8Col,
}

impl IncentiveList {
    fn with_capacity(n: usize) -> IncentiveList {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        IncentiveList {
            offsets,
            siret: Utf8Col::with_capacity(n, n * 14),
            name: Utf8Col::with_capacity(n, n * 12),
            amount: Int64Builder::with_capacity(n),
            beneficiary: Utf8Col::with_capacity(n, n * 8),
        }
    }

    fn push(&mut self, siret: &str, name: &str, amount: i64, to_driver: bool) {
        self.siret.append_value(siret);
        self.name.append_value(name);
        self.amount.append_value(amount);
        self.beneficiary
            .append_value(if to_driver { "driver" } else { "passenger" });
    }

    fn end_list(&mut self) {
        self.offsets.push(self.amount.len() as i32);
    }

    fn finish(mut self, field: &FieldRef) -> Result<ArrayRef> {
        let children: Vec<ArrayRef> = vec![
            self.siret.finish()?,
            self.name.finish()?,
            Arc::new(self.amount.finish()),
            self.beneficiary.finish()?,
        ];
        list_array(field, children, self.offsets)
    }
}

/// A `List<Struct{campaign_id, campaign_name, siret, name, amount_cents, beneficiary, status}>`.
struct RpcIncentiveList {
    offsets: Vec<i32>,
    campaign_id: Int64Builder,
    campaign_name: Utf8Col,
    siret: Utf8Col,
    name: Utf8Col,
    amount: Int64Builder,
    beneficiary: Utf8Col,
    status: Utf8Col,
}

impl RpcIncentiveList {
    fn with_capacity(n: usize) -> RpcIncentiveList {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        RpcIncentiveList {
            offsets,
            campaign_id: Int64Builder::with_capacity(n),
            campaign_name: Utf8Col::with_capacity(n, n * 24),
            siret: Utf8Col::with_capacity(n, n * 14),
            name: Utf8Col::with_capacity(n, n * 20),
            amount: Int64Builder::with_capacity(n),
            beneficiary: Utf8Col::with_capacity(n, n * 8),
            status: Utf8Col::with_capacity(n, n * 9),
        }
    }

    fn push(&mut self, campaign: &communes::Campaign, amount: i64, to_driver: bool, status: &str) {
        self.campaign_id.append_value(campaign.id);
        self.campaign_name.append_value(campaign.name);
        self.siret.append_value(campaign.siret);
        self.name.append_value(campaign.payer);
        self.amount.append_value(amount);
        self.beneficiary
            .append_value(if to_driver { "driver" } else { "passenger" });
        self.status.append_value(status);
    }

    fn end_list(&mut self) {
        self.offsets.push(self.amount.len() as i32);
    }

    fn finish(mut self, field: &FieldRef) -> Result<ArrayRef> {
        let children: Vec<ArrayRef> = vec![
            Arc::new(self.campaign_id.finish()),
            self.campaign_name.finish()?,
            self.siret.finish()?,
            self.name.finish()?,
            Arc::new(self.amount.finish()),
            self.beneficiary.finish()?,
            self.status.finish()?,
        ];
        list_array(field, children, self.offsets)
    }
}

/// Assembles a list-of-struct column of the type of `field`.
fn list_array(field: &FieldRef, children: Vec<ArrayRef>, offsets: Vec<i32>) -> Result<ArrayRef> {
    let DataType::List(item) = field.data_type() else {
        return Err(ExportError::ColumnType {
            column: field.name().clone(),
            expected: "List(Struct)".into(),
            actual: field.data_type().to_string(),
        });
    };
    let DataType::Struct(fields) = item.data_type() else {
        return Err(ExportError::ColumnType {
            column: field.name().clone(),
            expected: "List(Struct)".into(),
            actual: field.data_type().to_string(),
        });
    };
    let values = StructArray::try_new(fields.clone(), children, None)?;
    Ok(Arc::new(ListArray::try_new(
        item.clone(),
        OffsetBuffer::new(offsets.into()),
        Arc::new(values),
        None,
    )?))
}

/// One builder per column of the trip input schema.
struct Builders {
    journey_id: Int64Builder,
    operator_trip_id: Utf8Col,
    operator_journey_id: Utf8Col,
    trip_id: Utf8Col,
    operator_id: Int64Builder,
    operator: Utf8Col,
    operator_class: Utf8Col,
    status: Utf8Col,
    start_at: TimestampMillisecondBuilder,
    end_at: TimestampMillisecondBuilder,
    start_lat: Float64Builder,
    start_lon: Float64Builder,
    end_lat: Float64Builder,
    end_lon: Float64Builder,
    start: Geo,
    end: Geo,
    distance_m: Int64Builder,
    distance_announced_m: Int64Builder,
    distance_calculated_m: Int64Builder,
    duration_s: Int64Builder,
    duration_announced_s: Int64Builder,
    duration_calculated_s: Int64Builder,
    passenger_seats: Int32Builder,
    passenger_over_18: BooleanBuilder,
    driver_card: BooleanBuilder,
    passenger_card: BooleanBuilder,
    operator_passenger_id: Utf8Col,
    operator_driver_id: Utf8Col,
    passenger_identity_key: Utf8Col,
    driver_identity_key: Utf8Col,
    passenger_id: Utf8Col,
    driver_id: Utf8Col,
    passenger_contribution_cents: Int64Builder,
    driver_revenue_cents: Int64Builder,
    cee_application: BooleanBuilder,
    incentive_type: Utf8Col,
    incentives: IncentiveList,
    rpc_incentives: RpcIncentiveList,
}

impl Builders {
    fn with_capacity(n: usize) -> Builders {
        let s = |bytes: usize| Utf8Col::with_capacity(n, n * bytes);
        Builders {
            journey_id: Int64Builder::with_capacity(n),
            operator_trip_id: s(22),
            operator_journey_id: s(22),
            trip_id: s(36),
            operator_id: Int64Builder::with_capacity(n),
            operator: s(12),
            operator_class: s(1),
            status: s(3),
            start_at: TimestampMillisecondBuilder::with_capacity(n),
            end_at: TimestampMillisecondBuilder::with_capacity(n),
            start_lat: Float64Builder::with_capacity(n),
            start_lon: Float64Builder::with_capacity(n),
            end_lat: Float64Builder::with_capacity(n),
            end_lon: Float64Builder::with_capacity(n),
            start: Geo::with_capacity(n),
            end: Geo::with_capacity(n),
            distance_m: Int64Builder::with_capacity(n),
            distance_announced_m: Int64Builder::with_capacity(n),
            distance_calculated_m: Int64Builder::with_capacity(n),
            duration_s: Int64Builder::with_capacity(n),
            duration_announced_s: Int64Builder::with_capacity(n),
            duration_calculated_s: Int64Builder::with_capacity(n),
            passenger_seats: Int32Builder::with_capacity(n),
            passenger_over_18: BooleanBuilder::with_capacity(n),
            driver_card: BooleanBuilder::with_capacity(n),
            passenger_card: BooleanBuilder::with_capacity(n),
            operator_passenger_id: s(20),
            operator_driver_id: s(20),
            passenger_identity_key: s(64),
            driver_identity_key: s(64),
            passenger_id: s(36),
            driver_id: s(36),
            passenger_contribution_cents: Int64Builder::with_capacity(n),
            driver_revenue_cents: Int64Builder::with_capacity(n),
            cee_application: BooleanBuilder::with_capacity(n),
            incentive_type: s(6),
            incentives: IncentiveList::with_capacity(n),
            rpc_incentives: RpcIncentiveList::with_capacity(n),
        }
    }

    fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        use field::*;
        let mut named: Vec<(&'static str, ArrayRef)> = Vec::with_capacity(64);
        named.push((JOURNEY_ID, Arc::new(self.journey_id.finish())));
        named.push((OPERATOR_TRIP_ID, self.operator_trip_id.finish()?));
        named.push((OPERATOR_JOURNEY_ID, self.operator_journey_id.finish()?));
        named.push((TRIP_ID, self.trip_id.finish()?));
        named.push((OPERATOR_ID, Arc::new(self.operator_id.finish())));
        named.push((OPERATOR, self.operator.finish()?));
        named.push((OPERATOR_CLASS, self.operator_class.finish()?));
        named.push((STATUS, self.status.finish()?));
        named.push((
            START_AT,
            Arc::new(self.start_at.finish().with_timezone("UTC")),
        ));
        named.push((END_AT, Arc::new(self.end_at.finish().with_timezone("UTC"))));
        named.push((START_LAT, Arc::new(self.start_lat.finish())));
        named.push((START_LON, Arc::new(self.start_lon.finish())));
        named.push((END_LAT, Arc::new(self.end_lat.finish())));
        named.push((END_LON, Arc::new(self.end_lon.finish())));
        self.start.finish(
            &mut named,
            [
                START_INSEE,
                START_COMMUNE,
                START_DEPARTEMENT,
                START_EPCI,
                START_AOM,
                START_REGION,
                START_PAYS,
                START_DENSITY,
            ],
        )?;
        self.end.finish(
            &mut named,
            [
                END_INSEE,
                END_COMMUNE,
                END_DEPARTEMENT,
                END_EPCI,
                END_AOM,
                END_REGION,
                END_PAYS,
                END_DENSITY,
            ],
        )?;
        named.push((DISTANCE_M, Arc::new(self.distance_m.finish())));
        named.push((
            DISTANCE_ANNOUNCED_M,
            Arc::new(self.distance_announced_m.finish()),
        ));
        named.push((
            DISTANCE_CALCULATED_M,
            Arc::new(self.distance_calculated_m.finish()),
        ));
        named.push((DURATION_S, Arc::new(self.duration_s.finish())));
        named.push((
            DURATION_ANNOUNCED_S,
            Arc::new(self.duration_announced_s.finish()),
        ));
        named.push((
            DURATION_CALCULATED_S,
            Arc::new(self.duration_calculated_s.finish()),
        ));
        named.push((PASSENGER_SEATS, Arc::new(self.passenger_seats.finish())));
        named.push((PASSENGER_OVER_18, Arc::new(self.passenger_over_18.finish())));
        named.push((DRIVER_CARD, Arc::new(self.driver_card.finish())));
        named.push((PASSENGER_CARD, Arc::new(self.passenger_card.finish())));
        named.push((OPERATOR_PASSENGER_ID, self.operator_passenger_id.finish()?));
        named.push((OPERATOR_DRIVER_ID, self.operator_driver_id.finish()?));
        named.push((
            PASSENGER_IDENTITY_KEY,
            self.passenger_identity_key.finish()?,
        ));
        named.push((DRIVER_IDENTITY_KEY, self.driver_identity_key.finish()?));
        named.push((PASSENGER_ID, self.passenger_id.finish()?));
        named.push((DRIVER_ID, self.driver_id.finish()?));
        named.push((
            PASSENGER_CONTRIBUTION_CENTS,
            Arc::new(self.passenger_contribution_cents.finish()),
        ));
        named.push((
            DRIVER_REVENUE_CENTS,
            Arc::new(self.driver_revenue_cents.finish()),
        ));
        named.push((CEE_APPLICATION, Arc::new(self.cee_application.finish())));
        named.push((INCENTIVE_TYPE, self.incentive_type.finish()?));
        let incentives_field = schema.field_with_name(INCENTIVES)?;
        let rpc_field = schema.field_with_name(RPC_INCENTIVES)?;
        let incentives_field: FieldRef = Arc::new(incentives_field.clone());
        let rpc_field: FieldRef = Arc::new(rpc_field.clone());
        named.push((INCENTIVES, self.incentives.finish(&incentives_field)?));
        named.push((RPC_INCENTIVES, self.rpc_incentives.finish(&rpc_field)?));
        debug_assert_eq!(incentive_struct().len(), 4);
        debug_assert_eq!(rpc_incentive_struct().len(), 7);

        // Order by the schema, whatever the order above.
        let mut columns = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            let (_, array) = named.iter().find(|(n, _)| *n == f.name()).ok_or_else(|| {
                ExportError::MissingColumn {
                    column: f.name().clone(),
                    expected: f.data_type().to_string(),
                }
            })?;
            columns.push(array.clone());
        }
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_trigonometry_matches_std() {
        for i in 0..=100 {
            let x = i as f64 / 100.0 * 1.2;
            assert!((cos(x) - x.cos()).abs() < 1e-14, "cos({x})");
            let y = (i as f64 - 50.0) / 250.0;
            assert!((sin_small(y) - y.sin()).abs() < 1e-15, "sin({y})");
            let z = i as f64 / 500.0;
            assert!((asin_small(z) - z.asin()).abs() < 1e-14, "asin({z})");
        }
    }

    #[test]
    fn haversine_paris_lyon() {
        let d = haversine_m(48.8566, 2.3522, 45.7640, 4.8357);
        assert!((d - 391_500.0).abs() < 1_500.0, "{d}");
    }

    #[test]
    fn uuid_and_hex_shapes() {
        assert_eq!(
            std::str::from_utf8(&uuid(u64::MAX, 0)).unwrap(),
            "ffffffff-ffff-4fff-8000-000000000000"
        );
        assert_eq!(&hex16(0xabc)[12..], b"0abc");
        assert_eq!(&hex16(u64::MAX - 1), b"fffffffffffffffe");
    }

    #[test]
    fn clock_is_sorted_exact_and_in_period() {
        let start = 1_790_812_800_000;
        let end = start + 3 * 86_400_000;
        let mut clock = Clock::new(start, end, 10_000, Rng::from_seed(1));
        let mut last = start;
        for _ in 0..10_000 {
            let t = clock.next_time();
            assert!(t >= last && t < end);
            last = t;
        }
        assert_eq!(clock.assigned, 10_000);
    }

    #[test]
    fn local_weight_prefers_weekday_commutes() {
        // 2026-10-05 is a Monday; 06:00 UTC is 08:00 in Paris (summer time).
        let monday_8h = DateTime::parse_from_rfc3339("2026-10-05T06:00:00Z")
            .unwrap()
            .timestamp_millis();
        let sunday_3h = DateTime::parse_from_rfc3339("2026-10-04T01:00:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(local_weight(monday_8h), 70 * 10);
        assert_eq!(local_weight(sunday_3h), 3);
    }
}
