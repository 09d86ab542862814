//! The trip schema: column lists, derivation, privacy, filters, periods and the data dictionary.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, DurationSecondType, Float64Type, Int32Type, Int64Type, Time32SecondType,
    TimestampSecondType,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch,
    StringArray, StructArray, TimestampMillisecondArray,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, TimeUnit};
use chrono::{NaiveDate, TimeZone, Utc};
use export_core::filter::{Filters, GeoLevel, Predicate};
use export_core::privacy::{RareZoneFilter, ZoneCounts, ZoneSpool, keyed_trip_id};
use export_core::request::{Audience, Period, SchemaVersion};
use export_core::schema::trip::{
    self, DictionaryParams, TripContext, incentive_struct, input_schema, rpc_incentive_struct,
};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Column lists, byte for byte from trip-schema.md.

const V2_OPENDATA: &str =
    "journey_id, trip_id, journey_start_datetime, journey_start_date, journey_start_time,
  journey_start_lon, journey_start_lat, journey_start_insee, journey_start_department,
  journey_start_town, journey_start_towngroup, journey_start_country, journey_end_datetime,
  journey_end_date, journey_end_time, journey_end_lon, journey_end_lat, journey_end_insee,
  journey_end_department, journey_end_town, journey_end_towngroup, journey_end_country,
  passenger_seats, operator_class, journey_distance, journey_duration, has_incentive";

const V2_BASE: &str = "journey_id, trip_id, journey_start_datetime, journey_start_date,
journey_start_time, journey_start_lon, journey_start_lat, journey_start_insee,
journey_start_department, journey_start_town, journey_start_towngroup, journey_start_country,
journey_end_datetime, journey_end_date, journey_end_time, journey_end_lon, journey_end_lat,
journey_end_insee, journey_end_department, journey_end_town, journey_end_towngroup,
journey_end_country, driver_card, passenger_card, passenger_over_18, passenger_seats, operator_class";

const V2_OPERATOR_EXTRA: &str = "journey_distance_anounced, journey_distance_calculated,
  journey_duration_anounced, journey_duration_calculated, operator_journey_id, operator_passenger_id,
  operator_driver_id, status";

const V2_TERRITORY_EXTRA: &str =
    "journey_distance, journey_duration, operator, operator_journey_id,
  operator_passenger_id, operator_driver_id";

const V3_ALL: &str = "journey_id, operator_trip_id, operator_journey_id, operator_class, status,
start_datetime, start_date, start_time, end_datetime, end_date, end_time, duration, distance,
start_lat, start_lon, end_lat, end_lon, start_insee, start_commune, start_departement, start_epci,
start_aom, start_region, start_pays, end_insee, end_commune, end_departement, end_epci, end_aom,
end_region, end_pays, operator, operator_passenger_id, passenger_identity_key, operator_driver_id,
driver_identity_key, driver_revenue, passenger_contribution, passenger_seats, cee_application,
incentive_type, has_incentive, incentive_0_siret, incentive_0_name, incentive_0_amount,
incentive_1_siret, incentive_1_name, incentive_1_amount, incentive_2_siret, incentive_2_name,
incentive_2_amount, incentive_rpc_0_campaign_id, incentive_rpc_0_campaign_name,
incentive_rpc_0_siret, incentive_rpc_0_name, incentive_rpc_0_amount, incentive_rpc_1_campaign_id,
incentive_rpc_1_campaign_name, incentive_rpc_1_siret, incentive_rpc_1_name, incentive_rpc_1_amount,
incentive_rpc_2_campaign_id, incentive_rpc_2_campaign_name, incentive_rpc_2_siret,
incentive_rpc_2_name, incentive_rpc_2_amount";

fn list(text: &str) -> Vec<String> {
    text.split(',').map(|s| s.trim().to_string()).collect()
}

fn financial_block() -> Vec<String> {
    let mut v = vec![
        "passenger_id".to_string(),
        "passenger_contribution".to_string(),
    ];
    for n in 1..=4 {
        v.push(format!("passenger_incentive_{n}_siret"));
        v.push(format!("passenger_incentive_{n}_amount"));
    }
    for n in 1..=4 {
        v.push(format!("passenger_incentive_rpc_{n}_siret"));
        v.push(format!("passenger_incentive_rpc_{n}_name"));
        v.push(format!("passenger_incentive_rpc_{n}_amount"));
    }
    v.push("driver_id".into());
    v.push("driver_revenue".into());
    for n in 1..=4 {
        v.push(format!("driver_incentive_{n}_siret"));
        v.push(format!("driver_incentive_{n}_amount"));
    }
    for n in 1..=4 {
        v.push(format!("driver_incentive_rpc_{n}_siret"));
        v.push(format!("driver_incentive_rpc_{n}_name"));
        v.push(format!("driver_incentive_rpc_{n}_amount"));
    }
    v
}

fn names(version: SchemaVersion, audience: Audience) -> Vec<String> {
    trip::schema(version, audience)
        .column_names()
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn v2_column_lists_are_exact() {
    assert_eq!(financial_block().len(), 44);
    let opendata = names(SchemaVersion::V2, Audience::Opendata);
    assert_eq!(opendata.len(), 27);
    assert_eq!(opendata, list(V2_OPENDATA));

    let mut operator = list(V2_BASE);
    operator.extend(list(V2_OPERATOR_EXTRA));
    operator.extend(financial_block());
    assert_eq!(operator.len(), 79);
    assert_eq!(names(SchemaVersion::V2, Audience::Operator), operator);

    let mut territory = list(V2_BASE);
    territory.extend(list(V2_TERRITORY_EXTRA));
    territory.extend(financial_block());
    assert_eq!(territory.len(), 77);
    assert_eq!(names(SchemaVersion::V2, Audience::Territory), territory);

    for a in Audience::ALL {
        let s = trip::schema(SchemaVersion::V2, *a);
        assert_eq!(s.sheets().len(), 1);
        assert_eq!(s.sheets()[0].name, "trips");
        for c in s.columns() {
            assert_eq!(c.header, c.name);
            assert!(!c.description.is_empty(), "{} has no description", c.name);
        }
    }
}

#[test]
fn v3_column_lists_are_exact() {
    let all = list(V3_ALL);
    assert_eq!(all.len(), 66);
    let without = |drop: &[&str]| -> Vec<String> {
        all.iter()
            .filter(|n| !drop.contains(&n.as_str()))
            .cloned()
            .collect()
    };
    let opendata = without(&[
        "operator",
        "operator_journey_id",
        "operator_trip_id",
        "operator_passenger_id",
        "passenger_identity_key",
        "operator_driver_id",
        "driver_identity_key",
        "passenger_contribution",
        "driver_revenue",
    ]);
    assert_eq!(opendata.len(), 57);
    assert_eq!(names(SchemaVersion::V3, Audience::Opendata), opendata);
    let operator = without(&["operator", "has_incentive"]);
    assert_eq!(operator.len(), 64);
    assert_eq!(names(SchemaVersion::V3, Audience::Operator), operator);
    let territory = without(&["has_incentive"]);
    assert_eq!(territory.len(), 65);
    assert_eq!(names(SchemaVersion::V3, Audience::Territory), territory);

    let s = trip::schema(SchemaVersion::V3, Audience::Territory);
    assert_eq!(s.sheets()[0].name, "Trajets");
    let fmt = |n: &str| s.column(n).unwrap().num_format.clone().unwrap_or_default();
    assert_eq!(fmt("start_datetime"), "yyyy-mm-dd hh:mm:ss");
    assert_eq!(fmt("end_date"), "yyyy-mm-dd");
    assert_eq!(fmt("end_time"), "hh:mm:ss");
    assert_eq!(fmt("duration"), "[h]:mm:ss");
    assert_eq!(fmt("distance"), "0.000");
    assert_eq!(fmt("driver_revenue"), "#,##0.00 \"€\"");
    assert_eq!(fmt("incentive_rpc_2_amount"), "#,##0.00 \"€\"");
    assert_eq!(s.column("distance").unwrap().unit.as_deref(), Some("km"));
    assert_eq!(
        s.column("start_datetime").unwrap().data_type,
        DataType::Timestamp(TimeUnit::Second, Some("Europe/Paris".into()))
    );
    assert_eq!(
        s.column("duration").unwrap().data_type,
        DataType::Duration(TimeUnit::Second)
    );
    for c in s.columns() {
        assert!(c.width.is_some(), "{} has no width", c.name);
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-built input trips.

type Incentive = (&'static str, &'static str, Option<i64>, &'static str);
type RpcIncentive = (
    i64,
    &'static str,
    &'static str,
    &'static str,
    Option<i64>,
    &'static str,
    &'static str,
);

#[derive(Clone)]
struct Trip {
    journey_id: i64,
    operator_trip_id: &'static str,
    operator_id: i64,
    status: &'static str,
    start_ms: i64,
    end_ms: i64,
    start: (f64, f64, Option<f64>),
    end: (f64, f64, Option<f64>),
    start_insee: &'static str,
    end_insee: &'static str,
    start_aom: &'static str,
    end_aom: &'static str,
    incentive_type: Option<&'static str>,
    incentives: Option<Vec<Incentive>>,
    rpc: Option<Vec<RpcIncentive>>,
}

/// 2026-10-03T06:11:00Z.
const T0: i64 = 1_791_007_860_000;

fn trip_a() -> Trip {
    Trip {
        journey_id: 101,
        operator_trip_id: "op-trip-1",
        operator_id: 7,
        status: "ok",
        start_ms: T0,
        end_ms: T0 + 1_830_000,
        start: (48.8566999, 2.3522219, Some(21_000.0)),
        end: (-1.5536999, -1.5599, Some(30.0)),
        start_insee: "75056",
        end_insee: "92012",
        start_aom: "Île-de-France Mobilités",
        end_aom: "Île-de-France Mobilités",
        incentive_type: None,
        incentives: Some(vec![
            ("11111111100011", "Opérateur", Some(150), "passenger"),
            ("22222222200022", "Employeur", Some(200), "driver"),
            ("33333333300033", "Commune", None, "passenger"),
        ]),
        rpc: Some(vec![(
            42,
            "Campagne IDFM",
            "44444444400044",
            "IDFM",
            Some(300),
            "driver",
            "validated",
        )]),
    }
}

fn trip_b() -> Trip {
    Trip {
        journey_id: 102,
        operator_trip_id: "op-trip-2",
        operator_id: 8,
        status: "canceled",
        start_ms: T0 + 3_600_000,
        end_ms: T0 + 7_200_000,
        start: (45.0, 4.0, None),
        end: (45.5, 4.5, Some(50.0)),
        start_insee: "69123",
        end_insee: "75056",
        start_aom: "SYTRAL",
        end_aom: "Île-de-France Mobilités",
        incentive_type: Some("booster"),
        incentives: None,
        rpc: Some(vec![(
            43,
            "Campagne Lyon",
            "55555555500055",
            "Métropole",
            Some(100),
            "passenger",
            "pending",
        )]),
    }
}

fn incentives_array(rows: &[Option<Vec<Incentive>>]) -> ArrayRef {
    let flat: Vec<&Incentive> = rows.iter().flatten().flatten().collect();
    let items = StructArray::new(
        incentive_struct(),
        vec![
            Arc::new(StringArray::from_iter_values(flat.iter().map(|i| i.0))),
            Arc::new(StringArray::from_iter_values(flat.iter().map(|i| i.1))),
            Arc::new(Int64Array::from_iter(flat.iter().map(|i| i.2))),
            Arc::new(StringArray::from_iter_values(flat.iter().map(|i| i.3))),
        ],
        None,
    );
    list_of(items, rows.iter().map(|r| r.as_ref().map(Vec::len)))
}

fn rpc_array(rows: &[Option<Vec<RpcIncentive>>]) -> ArrayRef {
    let flat: Vec<&RpcIncentive> = rows.iter().flatten().flatten().collect();
    let items = StructArray::new(
        rpc_incentive_struct(),
        vec![
            Arc::new(Int64Array::from_iter_values(flat.iter().map(|i| i.0))),
            Arc::new(StringArray::from_iter_values(flat.iter().map(|i| i.1))),
            Arc::new(StringArray::from_iter_values(flat.iter().map(|i| i.2))),
            Arc::new(StringArray::from_iter_values(flat.iter().map(|i| i.3))),
            Arc::new(Int64Array::from_iter(flat.iter().map(|i| i.4))),
            Arc::new(StringArray::from_iter_values(flat.iter().map(|i| i.5))),
            Arc::new(StringArray::from_iter_values(flat.iter().map(|i| i.6))),
        ],
        None,
    );
    list_of(items, rows.iter().map(|r| r.as_ref().map(Vec::len)))
}

fn list_of(items: StructArray, lengths: impl Iterator<Item = Option<usize>>) -> ArrayRef {
    let lengths: Vec<Option<usize>> = lengths.collect();
    let offsets = OffsetBuffer::from_lengths(lengths.iter().map(|l| l.unwrap_or(0)));
    let nulls = NullBuffer::from(lengths.iter().map(Option::is_some).collect::<Vec<_>>());
    let field = Arc::new(Field::new(
        "item",
        DataType::Struct(items.fields().clone()),
        true,
    ));
    Arc::new(ListArray::new(field, offsets, Arc::new(items), Some(nulls)))
}

fn input(trips: &[Trip]) -> RecordBatch {
    let n = trips.len();
    let s = |f: &dyn Fn(&Trip) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(trips.iter().map(f).collect::<Vec<_>>()))
    };
    let i = |f: &dyn Fn(&Trip) -> Option<i64>| -> ArrayRef {
        Arc::new(Int64Array::from(trips.iter().map(f).collect::<Vec<_>>()))
    };
    let fl = |f: &dyn Fn(&Trip) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from(trips.iter().map(f).collect::<Vec<_>>()))
    };
    let ts = |f: &dyn Fn(&Trip) -> i64| -> ArrayRef {
        Arc::new(
            TimestampMillisecondArray::from(trips.iter().map(f).collect::<Vec<_>>())
                .with_timezone("UTC"),
        )
    };
    let b = |v: bool| -> ArrayRef { Arc::new(BooleanArray::from(vec![v; n])) };
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        ("journey_id", i(&|t| Some(t.journey_id))),
        ("operator_trip_id", s(&|t| Some(t.operator_trip_id.into()))),
        (
            "operator_journey_id",
            s(&|t| Some(format!("oj-{}", t.journey_id))),
        ),
        ("trip_id", s(&|t| Some(format!("trip-{}", t.journey_id)))),
        ("operator_id", i(&|t| Some(t.operator_id))),
        (
            "operator",
            s(&|t| Some(format!("Operator {}", t.operator_id))),
        ),
        ("operator_class", s(&|_| Some("C".into()))),
        ("status", s(&|t| Some(t.status.into()))),
        ("start_at", ts(&|t| t.start_ms)),
        ("end_at", ts(&|t| t.end_ms)),
        ("start_lat", fl(&|t| Some(t.start.0))),
        ("start_lon", fl(&|t| Some(t.start.1))),
        ("end_lat", fl(&|t| Some(t.end.0))),
        ("end_lon", fl(&|t| Some(t.end.1))),
        ("start_insee", s(&|t| Some(t.start_insee.into()))),
        (
            "start_commune",
            s(&|t| Some(format!("Commune {}", t.start_insee))),
        ),
        ("start_departement", s(&|t| Some(t.start_insee[..2].into()))),
        (
            "start_epci",
            s(&|t| Some(format!("EPCI {}", t.start_insee))),
        ),
        ("start_aom", s(&|t| Some(t.start_aom.into()))),
        ("start_region", s(&|_| Some("Île-de-France".into()))),
        ("start_pays", s(&|_| Some("France".into()))),
        ("start_density", fl(&|t| t.start.2)),
        ("end_insee", s(&|t| Some(t.end_insee.into()))),
        (
            "end_commune",
            s(&|t| Some(format!("Commune {}", t.end_insee))),
        ),
        ("end_departement", s(&|t| Some(t.end_insee[..2].into()))),
        ("end_epci", s(&|t| Some(format!("EPCI {}", t.end_insee)))),
        ("end_aom", s(&|t| Some(t.end_aom.into()))),
        ("end_region", s(&|_| Some("Île-de-France".into()))),
        ("end_pays", s(&|_| Some("France".into()))),
        ("end_density", fl(&|t| t.end.2)),
        ("distance_m", i(&|_| Some(12_345))),
        ("distance_announced_m", i(&|_| Some(12_000))),
        ("distance_calculated_m", i(&|_| Some(12_500))),
        ("duration_s", i(&|t| Some((t.end_ms - t.start_ms) / 1000))),
        ("duration_announced_s", i(&|_| Some(1_829))),
        ("duration_calculated_s", i(&|_| None)),
    ];
    columns.push((
        "passenger_seats",
        Arc::new(Int32Array::from(vec![Some(2); n])),
    ));
    columns.push(("passenger_over_18", b(true)));
    columns.push(("driver_card", b(false)));
    columns.push(("passenger_card", b(true)));
    for name in [
        "operator_passenger_id",
        "operator_driver_id",
        "passenger_identity_key",
        "driver_identity_key",
        "passenger_id",
        "driver_id",
    ] {
        columns.push((name, s(&|t| Some(format!("{name}-{}", t.journey_id)))));
    }
    columns.push(("passenger_contribution_cents", i(&|_| Some(250))));
    columns.push(("driver_revenue_cents", i(&|_| Some(480))));
    columns.push(("cee_application", b(false)));
    columns.push(("incentive_type", s(&|t| t.incentive_type.map(String::from))));
    let incentives: Vec<_> = trips.iter().map(|t| t.incentives.clone()).collect();
    let rpc: Vec<_> = trips.iter().map(|t| t.rpc.clone()).collect();
    columns.push(("incentives", incentives_array(&incentives)));
    columns.push(("rpc_incentives", rpc_array(&rpc)));
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    // Our hand-built batch is exactly the canonical schema (names and types).
    let canonical = input_schema();
    for f in canonical.fields() {
        assert_eq!(
            batch
                .schema()
                .field_with_name(f.name())
                .unwrap()
                .data_type(),
            f.data_type(),
            "{}",
            f.name()
        );
    }
    batch
}

fn col<'a>(b: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
}
fn s<'a>(b: &'a RecordBatch, name: &str, row: usize) -> Option<&'a str> {
    let a = col(b, name).as_string::<i32>();
    a.is_valid(row).then(|| a.value(row))
}
fn f(b: &RecordBatch, name: &str, row: usize) -> Option<f64> {
    let a = col(b, name).as_primitive::<Float64Type>();
    a.is_valid(row).then(|| a.value(row))
}
fn i(b: &RecordBatch, name: &str, row: usize) -> Option<i64> {
    let a = col(b, name).as_primitive::<Int64Type>();
    a.is_valid(row).then(|| a.value(row))
}
fn bool_at(b: &RecordBatch, name: &str, row: usize) -> Option<bool> {
    let a = col(b, name).as_boolean();
    a.is_valid(row).then(|| a.value(row))
}
fn hms(b: &RecordBatch, name: &str, row: usize) -> String {
    let v = col(b, name).as_primitive::<Time32SecondType>().value(row);
    format!("{:02}:{:02}:{:02}", v / 3600, v / 60 % 60, v % 60)
}
fn date(b: &RecordBatch, name: &str, row: usize) -> String {
    let v = col(b, name).as_primitive::<Date32Type>().value(row);
    (NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(v as i64)).to_string()
}
fn local_datetime(b: &RecordBatch, name: &str, row: usize) -> String {
    let a = col(b, name).as_primitive::<TimestampSecondType>();
    let tz: chrono_tz::Tz = match a.data_type() {
        DataType::Timestamp(_, Some(tz)) => tz.parse().unwrap(),
        other => panic!("{other}"),
    };
    Utc.timestamp_opt(a.value(row), 0)
        .unwrap()
        .with_timezone(&tz)
        .to_rfc3339()
}

// ---------------------------------------------------------------------------------------------
// Derivation.

#[test]
fn v2_operator_derivation_value_by_value() {
    let ctx = TripContext::new(SchemaVersion::V2, Audience::Operator);
    let out = trip::derive(&ctx, &input(&[trip_a(), trip_b()])).unwrap();
    let schema = ctx.schema();
    assert_eq!(
        out.schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>(),
        schema.column_names()
    );
    // Times are exact and local.
    assert_eq!(
        local_datetime(&out, "journey_start_datetime", 0),
        "2026-10-03T08:11:00+02:00"
    );
    assert_eq!(date(&out, "journey_start_date", 0), "2026-10-03");
    assert_eq!(hms(&out, "journey_start_time", 0), "08:11:00");
    assert_eq!(hms(&out, "journey_end_time", 0), "08:41:30");
    // Positions untouched for operators in V2.
    assert_eq!(f(&out, "journey_start_lat", 0), Some(48.8566999));
    assert_eq!(f(&out, "journey_end_lon", 0), Some(-1.5599));
    // Geography.
    assert_eq!(s(&out, "journey_start_insee", 0), Some("75056"));
    assert_eq!(s(&out, "journey_start_department", 0), Some("75"));
    assert_eq!(s(&out, "journey_start_town", 0), Some("Commune 75056"));
    assert_eq!(s(&out, "journey_start_towngroup", 0), Some("EPCI 75056"));
    assert_eq!(s(&out, "journey_end_country", 0), Some("France"));
    // Identifiers from input.
    assert_eq!(s(&out, "trip_id", 0), Some("trip-101"));
    assert_eq!(s(&out, "operator_journey_id", 1), Some("oj-102"));
    assert_eq!(s(&out, "status", 1), Some("canceled"));
    // Distances in metres, durations in whole minutes (1830 s → 31 min, 1829 s → 30 min).
    assert_eq!(i(&out, "journey_distance_anounced", 0), Some(12_000));
    assert_eq!(i(&out, "journey_distance_calculated", 0), Some(12_500));
    assert_eq!(i(&out, "journey_duration_anounced", 0), Some(30));
    assert_eq!(i(&out, "journey_duration_calculated", 0), None);
    // Booleans and seats.
    assert_eq!(bool_at(&out, "passenger_card", 0), Some(true));
    assert_eq!(bool_at(&out, "driver_card", 0), Some(false));
    assert_eq!(
        col(&out, "passenger_seats")
            .as_primitive::<Int32Type>()
            .value(0),
        2
    );
    // Money in euros.
    assert_eq!(f(&out, "passenger_contribution", 0), Some(2.5));
    assert_eq!(f(&out, "driver_revenue", 0), Some(4.8));
    // Incentive slots by beneficiary, in list order; a missing amount is 0.
    assert_eq!(
        s(&out, "passenger_incentive_1_siret", 0),
        Some("11111111100011")
    );
    assert_eq!(f(&out, "passenger_incentive_1_amount", 0), Some(1.5));
    assert_eq!(
        s(&out, "passenger_incentive_2_siret", 0),
        Some("33333333300033")
    );
    assert_eq!(f(&out, "passenger_incentive_2_amount", 0), Some(0.0));
    assert_eq!(s(&out, "passenger_incentive_3_siret", 0), None);
    assert_eq!(f(&out, "passenger_incentive_3_amount", 0), Some(0.0));
    assert_eq!(
        s(&out, "driver_incentive_1_siret", 0),
        Some("22222222200022")
    );
    assert_eq!(f(&out, "driver_incentive_1_amount", 0), Some(2.0));
    assert_eq!(s(&out, "driver_incentive_2_siret", 0), None);
    assert_eq!(s(&out, "driver_incentive_rpc_1_name", 0), Some("IDFM"));
    assert_eq!(
        s(&out, "driver_incentive_rpc_1_siret", 0),
        Some("44444444400044")
    );
    assert_eq!(f(&out, "driver_incentive_rpc_1_amount", 0), Some(3.0));
    assert_eq!(s(&out, "passenger_incentive_rpc_1_name", 0), None);
    assert_eq!(f(&out, "passenger_incentive_rpc_1_amount", 0), Some(0.0));
    // Trip b: no operator incentives (null list), one passenger RPC incentive.
    assert_eq!(s(&out, "passenger_incentive_1_siret", 1), None);
    assert_eq!(f(&out, "passenger_incentive_4_amount", 1), Some(0.0));
    assert_eq!(
        s(&out, "passenger_incentive_rpc_1_name", 1),
        Some("Métropole")
    );
    assert_eq!(f(&out, "passenger_incentive_rpc_1_amount", 1), Some(1.0));
    // The derived batch projects cleanly onto the schema.
    let projected = schema.project(0, &out).unwrap();
    assert_eq!(projected.num_columns(), 79);
    assert_eq!(projected.schema().metadata()["export:sheet"], "trips");
}

#[test]
fn v2_territory_has_distance_duration_and_operator() {
    let ctx = TripContext::new(SchemaVersion::V2, Audience::Territory);
    let out = trip::derive(&ctx, &input(&[trip_a()])).unwrap();
    assert_eq!(out.num_columns(), 77);
    assert_eq!(i(&out, "journey_distance", 0), Some(12_345));
    assert_eq!(i(&out, "journey_duration", 0), Some(31));
    assert_eq!(s(&out, "operator", 0), Some("Operator 7"));
}

#[test]
fn v2_opendata_hashes_rounds_and_truncates() {
    let key = b"opendata-secret".to_vec();
    let ctx = TripContext::new(SchemaVersion::V2, Audience::Opendata).with_hash_key(key.clone());
    let out = trip::derive(&ctx, &input(&[trip_a(), trip_b()])).unwrap();
    assert_eq!(out.num_columns(), 27);
    let expected = keyed_trip_id(&key, "op-trip-1");
    assert_eq!(s(&out, "trip_id", 0), Some(expected.as_str()));
    assert_eq!(expected.len(), 64);
    assert_ne!(s(&out, "trip_id", 0), s(&out, "trip_id", 1));
    // Rule 2: rounded up to 10 minutes.
    assert_eq!(
        local_datetime(&out, "journey_start_datetime", 0),
        "2026-10-03T08:20:00+02:00"
    );
    assert_eq!(hms(&out, "journey_start_time", 0), "08:20:00");
    assert_eq!(hms(&out, "journey_end_time", 0), "08:50:00");
    // Rule 3: dense start keeps 3 decimals, sparse end 2, unknown density 2.
    assert_eq!(f(&out, "journey_start_lat", 0), Some(48.856));
    assert_eq!(f(&out, "journey_start_lon", 0), Some(2.352));
    assert_eq!(f(&out, "journey_end_lat", 0), Some(-1.55));
    assert_eq!(f(&out, "journey_end_lon", 0), Some(-1.55));
    assert_eq!(f(&out, "journey_start_lat", 1), Some(45.0));
    // has_incentive: a validated RPC incentive only.
    assert_eq!(bool_at(&out, "has_incentive", 0), Some(true));
    assert_eq!(bool_at(&out, "has_incentive", 1), Some(false));
    assert_eq!(i(&out, "journey_duration", 0), Some(31));

    // Without a key, opendata V2 is refused.
    let no_key = TripContext::new(SchemaVersion::V2, Audience::Opendata);
    let err = trip::derive(&no_key, &input(&[trip_a()])).unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert!(err.to_string().contains("hash_key"));
}

#[test]
fn v3_derivation_value_by_value() {
    let ctx = TripContext::new(SchemaVersion::V3, Audience::Territory);
    let out = trip::derive(&ctx, &input(&[trip_a(), trip_b()])).unwrap();
    assert_eq!(out.num_columns(), 65);
    assert_eq!(
        local_datetime(&out, "start_datetime", 0),
        "2026-10-03T08:20:00+02:00"
    );
    assert_eq!(date(&out, "start_date", 0), "2026-10-03");
    assert_eq!(hms(&out, "start_time", 0), "08:20:00");
    assert_eq!(hms(&out, "end_time", 0), "08:50:00");
    assert_eq!(
        col(&out, "duration")
            .as_primitive::<DurationSecondType>()
            .value(0),
        1830
    );
    assert_eq!(f(&out, "distance", 0), Some(12.345));
    assert_eq!(f(&out, "start_lat", 0), Some(48.856));
    assert_eq!(f(&out, "end_lon", 0), Some(-1.55));
    assert_eq!(f(&out, "end_lat", 1), Some(45.5));
    assert_eq!(s(&out, "start_aom", 1), Some("SYTRAL"));
    assert_eq!(s(&out, "operator", 0), Some("Operator 7"));
    assert_eq!(s(&out, "operator_trip_id", 0), Some("op-trip-1"));
    assert_eq!(f(&out, "driver_revenue", 0), Some(4.8));
    assert_eq!(s(&out, "incentive_type", 0), Some("normal"));
    assert_eq!(s(&out, "incentive_type", 1), Some("booster"));
    // Operator incentives in list order, every beneficiary.
    assert_eq!(s(&out, "incentive_0_siret", 0), Some("11111111100011"));
    assert_eq!(s(&out, "incentive_0_name", 0), Some("Opérateur"));
    assert_eq!(f(&out, "incentive_0_amount", 0), Some(1.5));
    assert_eq!(s(&out, "incentive_1_siret", 0), Some("22222222200022"));
    assert_eq!(f(&out, "incentive_1_amount", 0), Some(2.0));
    assert_eq!(s(&out, "incentive_2_name", 0), Some("Commune"));
    assert_eq!(f(&out, "incentive_2_amount", 0), None);
    assert_eq!(s(&out, "incentive_0_siret", 1), None);
    // Registry incentives.
    assert_eq!(i(&out, "incentive_rpc_0_campaign_id", 0), Some(42));
    assert_eq!(
        s(&out, "incentive_rpc_0_campaign_name", 0),
        Some("Campagne IDFM")
    );
    assert_eq!(s(&out, "incentive_rpc_0_siret", 0), Some("44444444400044"));
    assert_eq!(s(&out, "incentive_rpc_0_name", 0), Some("IDFM"));
    assert_eq!(f(&out, "incentive_rpc_0_amount", 0), Some(3.0));
    assert_eq!(i(&out, "incentive_rpc_1_campaign_id", 0), None);
    assert_eq!(i(&out, "incentive_rpc_0_campaign_id", 1), Some(43));
    let projected = ctx.schema().project(0, &out).unwrap();
    assert_eq!(projected.schema().metadata()["export:sheet"], "Trajets");
    assert_eq!(
        projected
            .schema()
            .field_with_name("driver_revenue")
            .unwrap()
            .metadata()["export:num_format"],
        "#,##0.00 \"€\""
    );

    let opendata = TripContext::new(SchemaVersion::V3, Audience::Opendata);
    let out = trip::derive(&opendata, &input(&[trip_a()])).unwrap();
    assert_eq!(out.num_columns(), 57);
    assert_eq!(bool_at(&out, "has_incentive", 0), Some(true));
}

#[test]
fn v3_in_another_zone() {
    let ctx = TripContext::new(SchemaVersion::V3, Audience::Operator)
        .with_time_zone(chrono_tz::America::Cayenne);
    let out = trip::derive(&ctx, &input(&[trip_a()])).unwrap();
    assert_eq!(
        local_datetime(&out, "start_datetime", 0),
        "2026-10-03T03:20:00-03:00"
    );
    assert_eq!(hms(&out, "start_time", 0), "03:20:00");
}

#[test]
fn missing_and_mistyped_columns() {
    let full = input(&[trip_a()]);
    let ctx = TripContext::new(SchemaVersion::V3, Audience::Operator);

    // A required column is missing.
    let idx = full.schema().index_of("start_at").unwrap();
    let mut without = full.clone();
    without.remove_column(idx);
    let err = trip::derive(&ctx, &without).unwrap_err();
    assert_eq!(err.code(), "MISSING_COLUMN");
    assert!(err.to_string().contains("start_at"));

    // An optional column is missing: all-null unless strict.
    let idx = full.schema().index_of("end_density").unwrap();
    let mut without = full.clone();
    without.remove_column(idx);
    let out = trip::derive(&ctx, &without).unwrap();
    assert_eq!(f(&out, "end_lat", 0), Some(-1.55));
    let strict = ctx.clone().with_strict_input(true);
    let err = trip::derive(&strict, &without).unwrap_err();
    assert_eq!(err.code(), "MISSING_COLUMN");
    assert!(err.to_string().contains("end_density"));

    // Wrong type.
    let idx = full.schema().index_of("distance_m").unwrap();
    let mut columns: Vec<(String, ArrayRef)> = full
        .schema()
        .fields()
        .iter()
        .zip(full.columns())
        .map(|(f, c)| (f.name().clone(), c.clone()))
        .collect();
    columns[idx].1 = Arc::new(StringArray::from(vec!["12 km"]));
    let mistyped = RecordBatch::try_from_iter(columns.clone()).unwrap();
    let err = trip::derive(&ctx, &mistyped).unwrap_err();
    assert_eq!(
        err.to_string(),
        "column `distance_m` has type Utf8, expected Int64"
    );

    // Narrower integers and other timestamp units are accepted.
    columns[idx].1 = Arc::new(Int32Array::from(vec![12_345]));
    let start = full.schema().index_of("start_at").unwrap();
    columns[start].1 = Arc::new(arrow_array::TimestampSecondArray::from(vec![T0 / 1000]));
    let coerced = RecordBatch::try_from_iter(columns).unwrap();
    let out = trip::derive(&ctx, &coerced).unwrap();
    assert_eq!(f(&out, "distance", 0), Some(12.345));
    assert_eq!(hms(&out, "start_time", 0), "08:20:00");
}

// ---------------------------------------------------------------------------------------------
// Privacy, end to end.

#[test]
fn opendata_pipeline_with_rare_zones() {
    // 6 trips inside 75056 → 92012 (both common), one trip 69123 → 75056 (69123 rare).
    let mut trips = vec![trip_a(); 6];
    let mut rare = trip_b();
    rare.status = "ok";
    trips.push(rare);
    let batch = input(&trips);
    let filtered = Filters::default()
        .apply_trip(&batch, None, Audience::Opendata)
        .unwrap();
    let mut spool = ZoneSpool::new(filtered.schema()).unwrap();
    spool.push(&filtered).unwrap();
    let (counts, replay) = spool.finish().unwrap();
    assert_eq!(counts.get("75056"), 7);
    assert_eq!(counts.get("69123"), 1);
    let mut rule1 = RareZoneFilter::new(counts, 6);
    let ctx = TripContext::new(SchemaVersion::V2, Audience::Opendata).with_hash_key(b"k".to_vec());
    let mut rows = 0;
    for b in replay {
        let kept = rule1.apply(&b.unwrap()).unwrap();
        rows += trip::derive(&ctx, &kept).unwrap().num_rows();
    }
    assert_eq!(rows, 6);
    let report = rule1.report();
    assert_eq!((report.exposed, report.removed_rare_zones), (6, 1));

    let mut counts = ZoneCounts::new();
    counts.observe(&batch).unwrap();
    let (_, removed) = export_core::privacy::drop_rare_zones(&batch, &counts, 2).unwrap();
    assert_eq!(removed, 1);
}

// ---------------------------------------------------------------------------------------------
// Filters.

fn at(trips: &[i64]) -> RecordBatch {
    let list: Vec<Trip> = trips
        .iter()
        .enumerate()
        .map(|(n, ms)| Trip {
            journey_id: n as i64,
            start_ms: *ms,
            end_ms: *ms + 60_000,
            ..trip_a()
        })
        .collect();
    input(&list)
}

fn ids(batch: &RecordBatch) -> Vec<i64> {
    col(batch, "journey_id")
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

#[test]
fn period_filter_across_dst_changes() {
    let ms = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    // 2026-10-25 in Paris lasts 25 hours (CEST → CET).
    let day = Period::parse("2026-10-25", "2026-10-26", Some("Europe/Paris")).unwrap();
    assert_eq!((day.end - day.start).num_hours(), 25);
    let batch = at(&[
        ms("2026-10-24T21:59:59Z"), // 23:59:59 CEST on the 24th: out
        ms("2026-10-24T22:00:00Z"), // 00:00 CEST on the 25th: in
        ms("2026-10-25T00:30:00Z"), // 02:30 CEST, first pass: in
        ms("2026-10-25T01:30:00Z"), // 02:30 CET, second pass: in
        ms("2026-10-25T22:59:59Z"), // 23:59:59 CET: in
        ms("2026-10-25T23:00:00Z"), // 00:00 on the 26th: out (end excluded)
    ]);
    let kept = Filters::default()
        .apply_trip(&batch, Some(&day), Audience::Operator)
        .unwrap();
    assert_eq!(ids(&kept), [1, 2, 3, 4]);

    // 2026-03-29 lasts 23 hours (CET → CEST).
    let day = Period::parse("2026-03-29", "2026-03-30", Some("Europe/Paris")).unwrap();
    assert_eq!((day.end - day.start).num_hours(), 23);
    let batch = at(&[
        ms("2026-03-28T22:59:59Z"),
        ms("2026-03-28T23:00:00Z"),
        ms("2026-03-29T21:59:59Z"),
        ms("2026-03-29T22:00:00Z"),
    ]);
    let kept = Filters::default()
        .apply_trip(&batch, Some(&day), Audience::Operator)
        .unwrap();
    assert_eq!(ids(&kept), [1, 2]);
}

#[test]
fn operator_territory_geo_and_status_filters() {
    let mut c = trip_b();
    c.journey_id = 103;
    c.status = "ok";
    c.start_insee = "13055";
    c.end_insee = "13055";
    c.start_aom = "AMP";
    c.end_aom = "AMP";
    let batch = input(&[trip_a(), trip_b(), c]);

    let ops = Filters {
        operators: vec![8],
        ..Default::default()
    };
    assert_eq!(
        ids(&ops.apply_trip(&batch, None, Audience::Operator).unwrap()),
        [102, 103]
    );
    // Status `ok` only for opendata and territory.
    assert_eq!(
        ids(&ops.apply_trip(&batch, None, Audience::Territory).unwrap()),
        [103]
    );
    assert_eq!(
        ids(&Filters::default()
            .apply_trip(&batch, None, Audience::Opendata)
            .unwrap()),
        [101, 103]
    );

    // Territories: AOM name or INSEE code, start or end.
    let terr = |t: &[&str]| Filters {
        territories: t.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    assert_eq!(
        ids(&terr(&["SYTRAL"])
            .apply_trip(&batch, None, Audience::Operator)
            .unwrap()),
        [102]
    );
    assert_eq!(
        ids(&terr(&["75056", "AMP"])
            .apply_trip(&batch, None, Audience::Operator)
            .unwrap()),
        [101, 102, 103]
    );
    assert_eq!(
        ids(&terr(&["13"])
            .apply_trip(&batch, None, Audience::Operator)
            .unwrap()),
        [103]
    );

    // Geo: start or end; levels united.
    let geo = |pairs: &[(GeoLevel, &str)]| {
        let mut map: BTreeMap<GeoLevel, Vec<String>> = BTreeMap::new();
        for (l, c) in pairs {
            map.entry(*l).or_default().push(c.to_string());
        }
        Filters {
            geo: map,
            ..Default::default()
        }
    };
    // 92012 is the end of trip a only.
    assert_eq!(
        ids(&geo(&[(GeoLevel::Com, "92012")])
            .apply_trip(&batch, None, Audience::Operator)
            .unwrap()),
        [101]
    );
    // 75056 is trip a's start and trip b's end.
    assert_eq!(
        ids(&geo(&[(GeoLevel::Arr, "75056")])
            .apply_trip(&batch, None, Audience::Operator)
            .unwrap()),
        [101, 102]
    );
    assert_eq!(
        ids(
            &geo(&[(GeoLevel::Dep, "69"), (GeoLevel::Epci, "EPCI 13055")])
                .apply_trip(&batch, None, Audience::Operator)
                .unwrap()
        ),
        [102, 103]
    );
    assert_eq!(
        ids(
            &geo(&[(GeoLevel::Aom, "AMP"), (GeoLevel::Country, "Belgique")])
                .apply_trip(&batch, None, Audience::Operator)
                .unwrap()
        ),
        [103]
    );
    assert_eq!(
        geo(&[(GeoLevel::Reg, "Bretagne")])
            .apply_trip(&batch, None, Audience::Operator)
            .unwrap()
            .num_rows(),
        0
    );
    let err = geo(&[(GeoLevel::Reseau, "12")])
        .apply_trip(&batch, None, Audience::Operator)
        .unwrap_err();
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert!(err.to_string().contains("reseau"));

    // A filter needing an absent column says so.
    let only_ids =
        RecordBatch::try_from_iter([("journey_id", col(&batch, "journey_id").clone())]).unwrap();
    let err = ops
        .apply_trip(&only_ids, None, Audience::Operator)
        .unwrap_err();
    assert_eq!(err.code(), "MISSING_COLUMN");
}

#[test]
fn filter_kinds_do_not_mix() {
    let predicates = Filters {
        predicates: vec![Predicate::Eq {
            column: "x".into(),
            value: json!(1),
        }],
        ..Default::default()
    };
    assert_eq!(
        predicates.validate_for_trip().unwrap_err().code(),
        "INVALID_REQUEST"
    );
    assert!(predicates.validate_for_generic().is_ok());
    let trip_only = Filters {
        territories: vec!["AMP".into()],
        ..Default::default()
    };
    assert!(trip_only.validate_for_trip().is_ok());
    assert!(trip_only.validate_for_generic().is_err());
}

fn products() -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "sku",
            Arc::new(StringArray::from(vec![
                Some("a"),
                Some("b"),
                None,
                Some("d"),
            ])) as ArrayRef,
        ),
        (
            "stock",
            Arc::new(Int32Array::from(vec![Some(1), Some(5), Some(10), None])) as ArrayRef,
        ),
        (
            "price",
            Arc::new(Float64Array::from(vec![1.5, 2.5, 3.5, 4.5])) as ArrayRef,
        ),
        (
            "active",
            Arc::new(BooleanArray::from(vec![true, false, true, true])) as ArrayRef,
        ),
        (
            "added",
            Arc::new(arrow_array::Date32Array::from(vec![
                20_000, 20_001, 20_002, 20_003,
            ])) as ArrayRef,
        ),
        (
            "updated",
            Arc::new(
                TimestampMillisecondArray::from(vec![
                    T0,
                    T0 + 3_600_000,
                    T0 + 7_200_000,
                    T0 + 10_800_000,
                ])
                .with_timezone("Europe/Paris"),
            ) as ArrayRef,
        ),
    ])
    .unwrap()
}

fn keep(predicates: Vec<Predicate>) -> Vec<usize> {
    let batch = products();
    let out = Filters {
        predicates,
        ..Default::default()
    }
    .apply_predicates(&batch)
    .unwrap();
    let kept = col(&out, "price").as_primitive::<Float64Type>();
    kept.values().iter().map(|p| (p - 1.5) as usize).collect()
}

#[test]
fn generic_predicates() {
    let eq = |c: &str, v| Predicate::Eq {
        column: c.into(),
        value: v,
    };
    let range = |c: &str, min, max| Predicate::Range {
        column: c.into(),
        min,
        max,
    };
    assert_eq!(keep(vec![eq("sku", json!("b"))]), [1]);
    assert_eq!(keep(vec![eq("sku", json!(null))]), [2]);
    assert_eq!(
        keep(vec![Predicate::In {
            column: "sku".into(),
            values: vec![json!("a"), json!("d"), json!(null)]
        }]),
        [0, 2, 3]
    );
    assert_eq!(keep(vec![eq("stock", json!(5))]), [1]);
    assert_eq!(keep(vec![eq("stock", json!(5.0))]), [1]);
    assert_eq!(keep(vec![range("stock", Some(json!(2)), None)]), [1, 2]);
    assert_eq!(
        keep(vec![range("price", Some(json!(2)), Some(json!(3.5)))]),
        [1, 2]
    );
    assert_eq!(keep(vec![eq("active", json!(false))]), [1]);
    assert_eq!(
        keep(vec![range("added", Some(json!("2024-10-06")), None)]),
        [2, 3]
    );
    // 2026-10-03T06:11Z is 08:11 in Paris; a local bound is read in the column's zone.
    assert_eq!(
        keep(vec![range(
            "updated",
            Some(json!("2026-10-03T09:00:00")),
            Some(json!("2026-10-03T08:11:00Z"))
        )]),
        [1, 2]
    );
    assert_eq!(
        keep(vec![
            range("updated", None, Some(json!("2026-10-03T10:11:00+02:00"))),
            eq("active", json!(true))
        ]),
        [0, 2]
    );

    let batch = products();
    let run = |p: Predicate| {
        Filters {
            predicates: vec![p],
            ..Default::default()
        }
        .apply_predicates(&batch)
        .unwrap_err()
    };
    let err = run(eq("colour", json!("red")));
    assert_eq!(err.code(), "UNKNOWN_FIELD");
    assert!(
        err.to_string()
            .contains("sku, stock, price, active, added, updated")
    );
    let err = run(eq("stock", json!("many")));
    assert_eq!(err.code(), "INVALID_REQUEST");
    assert!(err.to_string().contains("`stock`"));
    let err = run(eq("stock", json!(1.5)));
    assert!(err.to_string().contains("integer"));
    let err = run(range("added", Some(json!("yesterday")), None));
    assert!(err.to_string().contains("`added`"));
    let err = run(eq("active", json!(1)));
    assert!(err.to_string().contains("boolean"));
}

// ---------------------------------------------------------------------------------------------
// Periods and the data dictionary.

#[test]
fn trip_period_limits() {
    let now = Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap();
    let p = |a: &str, b: &str| Period::parse(a, b, None).unwrap();
    assert!(trip::validate_period(&p("2026-10-01", "2026-11-01"), now).is_ok());
    assert!(trip::validate_period(&p("2025-11-01", "2026-11-01"), now).is_ok());
    for (a, b, why) in [
        ("2025-10-01", "2026-11-01", "longer"),
        ("2023-10-01", "2023-11-01", "back"),
        ("2026-10-01", "2026-11-06", "later"),
    ] {
        let err = trip::validate_period(&p(a, b), now).unwrap_err();
        assert_eq!(err.code(), "INVALID_PERIOD");
        assert!(err.to_string().contains(why), "{err}");
    }
    assert_eq!(
        trip::PERIOD_LIMITS.max_length,
        Some(chrono::Duration::days(366))
    );
}

#[test]
fn dictionary_describes_selected_columns_and_parameters() {
    let schema = trip::schema(SchemaVersion::V3, Audience::Opendata)
        .select(&export_core::schema::FieldSelection {
            include: vec!["journey_id".into(), "start_lat".into(), "start_time".into()],
            ..Default::default()
        })
        .unwrap();
    let period = Period::parse("2026-10-01", "2026-11-01", None).unwrap();
    let report = {
        let mut counts = ZoneCounts::new();
        counts.add("75056", 10);
        let mut f = RareZoneFilter::new(counts, 6);
        f.apply(&input(&[trip_a()])).unwrap();
        f.report()
    };
    let params = DictionaryParams::new(SchemaVersion::V3, Audience::Opendata)
        .with_period(period)
        .with_rows(1234)
        .with_generated_at(Utc.with_ymd_and_hms(2026, 11, 6, 3, 0, 0).unwrap())
        .with_privacy(report);
    let batch = trip::dictionary_batch(&schema, &params).unwrap();
    assert_eq!(batch.schema().metadata()["export:sheet"], "Aide");
    let c = |i: usize| batch.column(i).as_string::<i32>();
    let rows: Vec<String> = (0..batch.num_rows())
        .map(|r| {
            (0..6)
                .map(|k| if c(k).is_valid(r) { c(k).value(r) } else { "" })
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    assert_eq!(rows[0].split(" | ").next(), Some("journey_id"));
    assert!(rows[1].starts_with("start_time | "), "{}", rows[1]);
    assert!(rows[1].contains("heure locale / local time"));
    assert!(rows[1].contains("opendata, operator, territory"));
    assert!(rows[1].contains("rounded up to the next 10 minutes"));
    assert!(rows[2].starts_with("start_lat | "));
    assert!(rows[2].contains("truncated to 3 decimals"));
    assert_eq!(rows[3], " |  |  |  |  | ");
    let text = rows.join("\n");
    assert!(text.contains("Version | v3"));
    assert!(text.contains("Public / audience | opendata"));
    assert!(text.contains("[2026-10-01T00:00:00+02:00, 2026-11-01T00:00:00+01:00)"));
    assert!(text.contains("Europe/Paris"));
    assert!(text.contains("Lignes / rows | 1234"));
    assert!(text.contains("2026-11-06T03:00:00Z"));
    assert!(text.contains("Trajets exposés / trips exposed | 0"));
    assert!(text.contains("Retirés, zones rares / removed, rare zones | 1"));
}
