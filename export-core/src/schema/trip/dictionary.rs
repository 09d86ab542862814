//! The data dictionary of the V3 help sheet `Aide`.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::DataType;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

use super::columns::{HELP_SHEET, audiences_of};
use crate::error::Result;
use crate::privacy::{DEFAULT_RARE_ZONE_THRESHOLD, PrivacyReport};
use crate::request::{Audience, Period, SchemaVersion};
use crate::schema::{Column, ExportSchema, META_SHEET, META_WIDTH};
use crate::temporal::DEFAULT_TIME_ZONE;

/// The export's parameters written below the column descriptions of the help sheet.
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use export_core::request::{Audience, SchemaVersion};
/// use export_core::schema::trip::DictionaryParams;
///
/// let params = DictionaryParams::new(SchemaVersion::V3, Audience::Opendata)
///     .with_rows(1234)
///     .with_generated_at(Utc.with_ymd_and_hms(2026, 11, 6, 3, 0, 0).unwrap());
/// assert_eq!(params.rows, 1234);
/// assert_eq!(params.time_zone.name(), "Europe/Paris");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DictionaryParams {
    /// Schema version.
    pub version: SchemaVersion,
    /// Audience of the export.
    pub audience: Audience,
    /// Exported period, when there is one.
    pub period: Option<Period>,
    /// Zone of the local dates and times in the file.
    pub time_zone: Tz,
    /// Data rows written.
    pub rows: u64,
    /// When the file was generated.
    pub generated_at: DateTime<Utc>,
    /// What the opendata privacy rules did, when they ran.
    pub privacy: Option<PrivacyReport>,
}

impl DictionaryParams {
    /// Parameters of a `version` export for `audience`, generated now, in `Europe/Paris`, no
    /// period, no rows.
    pub fn new(version: SchemaVersion, audience: Audience) -> DictionaryParams {
        DictionaryParams {
            version,
            audience,
            period: None,
            time_zone: DEFAULT_TIME_ZONE,
            rows: 0,
            generated_at: Utc::now(),
            privacy: None,
        }
    }
    /// Sets the period (and the zone, taken from the period).
    pub fn with_period(mut self, period: Period) -> DictionaryParams {
        self.time_zone = period.time_zone;
        self.period = Some(period);
        self
    }
    /// Sets the zone of local times.
    pub fn with_time_zone(mut self, time_zone: Tz) -> DictionaryParams {
        self.time_zone = time_zone;
        self
    }
    /// Sets the row count.
    pub fn with_rows(mut self, rows: u64) -> DictionaryParams {
        self.rows = rows;
        self
    }
    /// Sets the generation time.
    pub fn with_generated_at(mut self, at: DateTime<Utc>) -> DictionaryParams {
        self.generated_at = at;
        self
    }
    /// Sets the privacy report (opendata).
    pub fn with_privacy(mut self, report: PrivacyReport) -> DictionaryParams {
        self.privacy = Some(report);
        self
    }
}

/// The help sheet's own schema: six text columns (column, description, type, unit, audiences,
/// privacy) on a sheet named `Aide`.
///
/// # Examples
///
/// ```
/// let help = export_core::schema::trip::dictionary_schema();
/// assert_eq!(help.sheets()[0].name, "Aide");
/// assert_eq!(help.column_names(), ["column", "description", "type", "unit", "audiences", "privacy"]);
/// ```
pub fn dictionary_schema() -> ExportSchema {
    let text = |name: &str, width: f64, description: &str| {
        Column::new(name, DataType::Utf8)
            .width(width)
            .description(description)
    };
    let columns = vec![
        text("column", 32.0, "Nom de la colonne / column name."),
        text(
            "description",
            90.0,
            "Description de la colonne / what the column holds.",
        ),
        text("type", 30.0, "Type des valeurs / value type."),
        text("unit", 10.0, "Unité / unit."),
        text(
            "audiences",
            30.0,
            "Publics dont l'export contient la colonne / audiences whose export has the column.",
        ),
        text(
            "privacy",
            70.0,
            "Traitement de confidentialité / privacy treatment.",
        ),
    ];
    ExportSchema {
        name: "trip_dictionary".to_string(),
        sheets: vec![crate::schema::Sheet::new(HELP_SHEET, columns)],
    }
}

/// The data dictionary of an export: one row per column of `schema` (every sheet, selected
/// columns only, under their headers), an empty row, then the export's parameters (version,
/// audience, period, time zone, rows, generation time and, for opendata, the privacy report)
/// with the parameter's name in `column` and its value in `description`.
///
/// The batch's schema is [`dictionary_schema`]'s output schema: schema metadata `export:sheet`
/// is `Aide`, field metadata carries column widths.
///
/// # Errors
///
/// [`crate::ExportError::Arrow`] if the batch cannot be assembled.
///
/// # Examples
///
/// ```
/// use arrow_array::cast::AsArray;
/// use export_core::request::{Audience, SchemaVersion};
/// use export_core::schema::trip::{self, DictionaryParams};
///
/// let schema = trip::schema(SchemaVersion::V3, Audience::Opendata);
/// let params = DictionaryParams::new(SchemaVersion::V3, Audience::Opendata).with_rows(10);
/// let batch = trip::dictionary_batch(&schema, &params).unwrap();
/// assert_eq!(batch.schema().metadata()["export:sheet"], "Aide");
/// let names = batch.column(0).as_string::<i32>();
/// assert_eq!(names.value(0), "journey_id");
/// let audiences = batch.column(4).as_string::<i32>();
/// assert_eq!(audiences.value(0), "opendata, operator, territory");
/// ```
pub fn dictionary_batch(schema: &ExportSchema, params: &DictionaryParams) -> Result<RecordBatch> {
    let mut rows: Vec<[String; 6]> = Vec::new();
    for column in schema.sheets().iter().flat_map(|s| &s.columns) {
        let audiences = audiences_of(params.version, &column.name)
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        rows.push([
            column.header.clone(),
            column.description.clone(),
            type_label(&column.data_type, params.version),
            column.unit.clone().unwrap_or_default(),
            audiences,
            privacy_treatment(params, &column.name),
        ]);
    }
    rows.push(Default::default());
    let mut param = |name: &str, value: String| {
        rows.push([
            name.to_string(),
            value,
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ])
    };
    param("Version", params.version.as_str().to_string());
    param("Public / audience", params.audience.as_str().to_string());
    if let Some(p) = &params.period {
        let local = |t: DateTime<Utc>| {
            t.with_timezone(&p.time_zone)
                .to_rfc3339_opts(SecondsFormat::Secs, false)
        };
        param(
            "Période / period",
            format!("[{}, {})", local(p.start), local(p.end)),
        );
    }
    param(
        "Fuseau horaire / time zone",
        format!(
            "{} (dates et heures locales / local dates and times)",
            params.time_zone.name()
        ),
    );
    param("Lignes / rows", params.rows.to_string());
    param(
        "Généré le / generated at",
        params
            .generated_at
            .to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    if let Some(r) = &params.privacy {
        param("Trajets exposés / trips exposed", r.exposed.to_string());
        param(
            "Retirés, zones rares / removed, rare zones",
            format!(
                "{} (seuil / threshold {} trajets)",
                r.removed_rare_zones, r.threshold
            ),
        );
    }
    let arrays: Vec<ArrayRef> = (0..6)
        .map(|i| {
            Arc::new(
                rows.iter()
                    .map(|r| (!r[i].is_empty()).then_some(r[i].as_str()))
                    .collect::<StringArray>(),
            ) as ArrayRef
        })
        .collect();
    let help = dictionary_schema();
    let out = help.output_schema(0);
    debug_assert_eq!(out.metadata()[META_SHEET], HELP_SHEET);
    debug_assert!(out.field(0).metadata().contains_key(META_WIDTH));
    Ok(RecordBatch::try_new(out, arrays)?)
}

fn type_label(t: &DataType, version: SchemaVersion) -> String {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            "entier / integer".into()
        }
        DataType::Float32 | DataType::Float64 => "nombre décimal / decimal number".into(),
        DataType::Boolean if version == SchemaVersion::V2 => "booléen OUI/NON / boolean".into(),
        DataType::Boolean => "booléen / boolean".into(),
        DataType::Timestamp(_, _) => "date et heure locales / local date-time".into(),
        DataType::Date32 | DataType::Date64 => "date locale / local date".into(),
        DataType::Time32(_) | DataType::Time64(_) => "heure locale / local time".into(),
        DataType::Duration(_) => "durée / duration".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "texte / text".into(),
        other => other.to_string(),
    }
}

fn privacy_treatment(params: &DictionaryParams, name: &str) -> String {
    let opendata = params.audience == Audience::Opendata;
    let coarse = params.version == SchemaVersion::V3 || opendata;
    let threshold = params
        .privacy
        .map_or(DEFAULT_RARE_ZONE_THRESHOLD, |r| r.threshold);
    let pick = |k: &str| -> String {
        match k {
            "time" => "Arrondi aux 10 minutes supérieures / rounded up to the next 10 minutes.".into(),
            "position" => "Tronquée à 3 décimales si la commune a plus de 40 hab./km², sinon 2 / truncated to 3 decimals where the commune has more than 40 inhabitants/km², else 2.".into(),
            "zone" => format!("Trajets touchant une commune de moins de {threshold} trajets retirés / trips touching a commune with fewer than {threshold} trips are removed."),
            _ => "Donnée personnelle, fichier conservé 7 jours / personal data, the file is kept 7 days.".into(),
        }
    };
    if coarse && (name.ends_with("_datetime") || name.ends_with("_date") || name.ends_with("_time"))
    {
        return pick("time");
    }
    if coarse && (name.ends_with("_lat") || name.ends_with("_lon")) {
        return pick("position");
    }
    if opendata && name.ends_with("_insee") {
        return pick("zone");
    }
    if opendata && name == "trip_id" {
        return "HMAC-SHA256 à clé secrète de l'identifiant opérateur / keyed HMAC-SHA256 of the operator's trip id.".into();
    }
    let personal = matches!(
        name,
        "operator_passenger_id"
            | "operator_driver_id"
            | "passenger_identity_key"
            | "driver_identity_key"
            | "passenger_id"
            | "driver_id"
    );
    if personal && !opendata {
        return pick("personal");
    }
    String::new()
}
