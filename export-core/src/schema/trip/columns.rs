//! The output columns of the trip schema: names (byte for byte, misspellings included), types,
//! Excel formats, widths, descriptions and units, per version and audience.

use arrow_schema::{DataType, TimeUnit};
use chrono_tz::Tz;

use crate::request::{Audience, SchemaVersion};
use crate::schema::{Column, ExportSchema, Sheet};
use crate::temporal::DEFAULT_TIME_ZONE;

/// Name of the V2 (CSV) sheet.
pub const V2_SHEET: &str = "trips";
/// Name of the V3 (XLSX) data sheet.
pub const V3_SHEET: &str = "Trajets";
/// Name of the V3 (XLSX) help sheet holding the data dictionary.
pub const HELP_SHEET: &str = "Aide";

/// Excel number format of money columns.
pub const EURO_FORMAT: &str = "#,##0.00 \"€\"";

const V2_BASE: [&str; 27] = [
    "journey_id",
    "trip_id",
    "journey_start_datetime",
    "journey_start_date",
    "journey_start_time",
    "journey_start_lon",
    "journey_start_lat",
    "journey_start_insee",
    "journey_start_department",
    "journey_start_town",
    "journey_start_towngroup",
    "journey_start_country",
    "journey_end_datetime",
    "journey_end_date",
    "journey_end_time",
    "journey_end_lon",
    "journey_end_lat",
    "journey_end_insee",
    "journey_end_department",
    "journey_end_town",
    "journey_end_towngroup",
    "journey_end_country",
    "driver_card",
    "passenger_card",
    "passenger_over_18",
    "passenger_seats",
    "operator_class",
];

const V2_OPENDATA_TAIL: [&str; 5] = [
    "passenger_seats",
    "operator_class",
    "journey_distance",
    "journey_duration",
    "has_incentive",
];

const V2_OPERATOR_EXTRA: [&str; 8] = [
    "journey_distance_anounced",
    "journey_distance_calculated",
    "journey_duration_anounced",
    "journey_duration_calculated",
    "operator_journey_id",
    "operator_passenger_id",
    "operator_driver_id",
    "status",
];

const V2_TERRITORY_EXTRA: [&str; 6] = [
    "journey_distance",
    "journey_duration",
    "operator",
    "operator_journey_id",
    "operator_passenger_id",
    "operator_driver_id",
];

const V3_ALL: [&str; 66] = [
    "journey_id",
    "operator_trip_id",
    "operator_journey_id",
    "operator_class",
    "status",
    "start_datetime",
    "start_date",
    "start_time",
    "end_datetime",
    "end_date",
    "end_time",
    "duration",
    "distance",
    "start_lat",
    "start_lon",
    "end_lat",
    "end_lon",
    "start_insee",
    "start_commune",
    "start_departement",
    "start_epci",
    "start_aom",
    "start_region",
    "start_pays",
    "end_insee",
    "end_commune",
    "end_departement",
    "end_epci",
    "end_aom",
    "end_region",
    "end_pays",
    "operator",
    "operator_passenger_id",
    "passenger_identity_key",
    "operator_driver_id",
    "driver_identity_key",
    "driver_revenue",
    "passenger_contribution",
    "passenger_seats",
    "cee_application",
    "incentive_type",
    "has_incentive",
    "incentive_0_siret",
    "incentive_0_name",
    "incentive_0_amount",
    "incentive_1_siret",
    "incentive_1_name",
    "incentive_1_amount",
    "incentive_2_siret",
    "incentive_2_name",
    "incentive_2_amount",
    "incentive_rpc_0_campaign_id",
    "incentive_rpc_0_campaign_name",
    "incentive_rpc_0_siret",
    "incentive_rpc_0_name",
    "incentive_rpc_0_amount",
    "incentive_rpc_1_campaign_id",
    "incentive_rpc_1_campaign_name",
    "incentive_rpc_1_siret",
    "incentive_rpc_1_name",
    "incentive_rpc_1_amount",
    "incentive_rpc_2_campaign_id",
    "incentive_rpc_2_campaign_name",
    "incentive_rpc_2_siret",
    "incentive_rpc_2_name",
    "incentive_rpc_2_amount",
];

const V3_NOT_OPENDATA: [&str; 9] = [
    "operator",
    "operator_journey_id",
    "operator_trip_id",
    "operator_passenger_id",
    "passenger_identity_key",
    "operator_driver_id",
    "driver_identity_key",
    "passenger_contribution",
    "driver_revenue",
];

/// The 44 columns of the V2 financial block (operator and territory audiences).
fn financial_block() -> Vec<String> {
    let mut names = Vec::with_capacity(44);
    for who in ["passenger", "driver"] {
        names.push(format!("{who}_id"));
        names.push(if who == "passenger" {
            "passenger_contribution".to_string()
        } else {
            "driver_revenue".to_string()
        });
        for n in 1..=4 {
            names.push(format!("{who}_incentive_{n}_siret"));
            names.push(format!("{who}_incentive_{n}_amount"));
        }
        for n in 1..=4 {
            names.push(format!("{who}_incentive_rpc_{n}_siret"));
            names.push(format!("{who}_incentive_rpc_{n}_name"));
            names.push(format!("{who}_incentive_rpc_{n}_amount"));
        }
    }
    names
}

/// The ordered column names of a version and audience.
pub(crate) fn column_names(version: SchemaVersion, audience: Audience) -> Vec<String> {
    let own = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match (version, audience) {
        (SchemaVersion::V2, Audience::Opendata) => {
            let mut names = own(&V2_BASE[..22]);
            names.extend(own(&V2_OPENDATA_TAIL));
            names
        }
        (SchemaVersion::V2, Audience::Operator) => {
            let mut names = own(&V2_BASE);
            names.extend(own(&V2_OPERATOR_EXTRA));
            names.extend(financial_block());
            names
        }
        (SchemaVersion::V2, Audience::Territory) => {
            let mut names = own(&V2_BASE);
            names.extend(own(&V2_TERRITORY_EXTRA));
            names.extend(financial_block());
            names
        }
        (SchemaVersion::V3, Audience::Opendata) => V3_ALL
            .iter()
            .filter(|n| !V3_NOT_OPENDATA.contains(n))
            .map(|s| s.to_string())
            .collect(),
        (SchemaVersion::V3, Audience::Operator) => V3_ALL
            .iter()
            .filter(|n| !matches!(**n, "operator" | "has_incentive"))
            .map(|s| s.to_string())
            .collect(),
        (SchemaVersion::V3, Audience::Territory) => V3_ALL
            .iter()
            .filter(|n| **n != "has_incentive")
            .map(|s| s.to_string())
            .collect(),
    }
}

/// The trip schema of `version` for `audience`, with local times in `Europe/Paris`.
///
/// V2 has one sheet named `trips` (27, 79 or 77 columns for opendata, operator, territory);
/// V3 one data sheet named `Trajets` (57, 64 or 65 columns). Column names are those of the
/// registry, byte for byte (`journey_distance_anounced` included); headers equal names.
/// Use [`schema_in_zone`] (or [`super::TripContext::schema`]) when the request names another
/// zone: the zone is part of the `*_datetime` columns' Arrow type.
///
/// # Examples
///
/// ```
/// use export_core::request::{Audience, SchemaVersion};
/// use export_core::schema::trip;
///
/// let v2 = trip::schema(SchemaVersion::V2, Audience::Operator);
/// assert_eq!(v2.columns().len(), 79);
/// assert_eq!(v2.sheets()[0].name, "trips");
/// let v3 = trip::schema(SchemaVersion::V3, Audience::Opendata);
/// assert_eq!(v3.columns().len(), 57);
/// assert_eq!(v3.column("distance").unwrap().num_format.as_deref(), Some("0.000"));
/// ```
pub fn schema(version: SchemaVersion, audience: Audience) -> ExportSchema {
    schema_in_zone(version, audience, DEFAULT_TIME_ZONE)
}

/// The trip schema of `version` for `audience`, whose `*_datetime` columns are
/// `Timestamp(Second, time_zone)`.
///
/// # Examples
///
/// ```
/// use arrow_schema::{DataType, TimeUnit};
/// use export_core::request::{Audience, SchemaVersion};
/// use export_core::schema::trip;
///
/// let s = trip::schema_in_zone(SchemaVersion::V3, Audience::Territory, chrono_tz::America::Cayenne);
/// assert_eq!(
///     s.column("start_datetime").unwrap().data_type,
///     DataType::Timestamp(TimeUnit::Second, Some("America/Cayenne".into()))
/// );
/// ```
pub fn schema_in_zone(version: SchemaVersion, audience: Audience, time_zone: Tz) -> ExportSchema {
    let names = column_names(version, audience);
    let columns = names
        .iter()
        .map(|n| column(version, n, time_zone))
        .collect();
    let sheet = match version {
        SchemaVersion::V2 => V2_SHEET,
        SchemaVersion::V3 => V3_SHEET,
    };
    ExportSchema {
        name: "trip".to_string(),
        sheets: vec![Sheet::new(sheet, columns)],
    }
}

/// The audiences whose schema of `version` has a column named `name`.
pub(crate) fn audiences_of(version: SchemaVersion, name: &str) -> Vec<Audience> {
    Audience::ALL
        .iter()
        .copied()
        .filter(|a| column_names(version, *a).iter().any(|n| n == name))
        .collect()
}

fn money(name: &str) -> bool {
    name.ends_with("_amount") || name == "passenger_contribution" || name == "driver_revenue"
}

fn column(version: SchemaVersion, name: &str, tz: Tz) -> Column {
    let ts = DataType::Timestamp(TimeUnit::Second, Some(tz.name().into()));
    let v3 = version == SchemaVersion::V3;
    let base = |t: DataType| Column::new(name, t).description(describe(name));
    if name == "journey_id" {
        base(DataType::Int64).required().width(12.0)
    } else if name.ends_with("_datetime") {
        let c = base(ts).width(20.0);
        if v3 {
            c.num_format("yyyy-mm-dd hh:mm:ss")
        } else {
            c
        }
    } else if name.ends_with("_date") {
        let c = base(DataType::Date32).width(12.0);
        if v3 { c.num_format("yyyy-mm-dd") } else { c }
    } else if name.ends_with("_time") {
        let c = base(DataType::Time32(TimeUnit::Second)).width(10.0);
        if v3 { c.num_format("hh:mm:ss") } else { c }
    } else if name.ends_with("_lon") || name.ends_with("_lat") {
        base(DataType::Float64).width(11.0).unit("°")
    } else if matches!(
        name,
        "driver_card"
            | "passenger_card"
            | "passenger_over_18"
            | "has_incentive"
            | "cee_application"
    ) {
        base(DataType::Boolean).width(10.0)
    } else if name == "passenger_seats" {
        base(DataType::Int32).width(8.0)
    } else if name.starts_with("journey_distance") {
        base(DataType::Int64).width(12.0).unit("m")
    } else if name.starts_with("journey_duration") {
        base(DataType::Int64).width(12.0).unit("min")
    } else if name == "duration" {
        base(DataType::Duration(TimeUnit::Second))
            .num_format("[h]:mm:ss")
            .width(10.0)
            .unit("h:mm:ss")
    } else if name == "distance" {
        base(DataType::Float64)
            .num_format("0.000")
            .width(10.0)
            .unit("km")
    } else if money(name) {
        let c = base(DataType::Float64).width(12.0).unit("EUR");
        if v3 { c.num_format(EURO_FORMAT) } else { c }
    } else if name.ends_with("_campaign_id") {
        base(DataType::Int64).width(10.0)
    } else {
        let width = if name.ends_with("_insee")
            || name.ends_with("_department")
            || name.ends_with("_departement")
            || matches!(name, "operator_class" | "status" | "incentive_type")
        {
            12.0
        } else if name.ends_with("_siret") {
            16.0
        } else {
            28.0
        };
        base(DataType::Utf8).width(width)
    }
}

/// One sentence (French, then English) describing a column.
pub(crate) fn describe(name: &str) -> String {
    if let Some(d) = describe_fixed(name) {
        return d.to_string();
    }
    // Start or end geography and time.
    let (side_fr, side_en, rest) = if let Some(r) = name
        .strip_prefix("journey_start_")
        .or_else(|| name.strip_prefix("start_"))
    {
        ("départ", "start", r)
    } else if let Some(r) = name
        .strip_prefix("journey_end_")
        .or_else(|| name.strip_prefix("end_"))
    {
        ("arrivée", "end", r)
    } else {
        ("", "", name)
    };
    if !side_fr.is_empty() {
        let (fr, en) = match rest {
            "datetime" => ("Date et heure locales", "local date and time"),
            "date" => ("Date locale", "local date"),
            "time" => ("Heure locale", "local time of day"),
            "lon" => ("Longitude WGS84", "WGS84 longitude"),
            "lat" => ("Latitude WGS84", "WGS84 latitude"),
            "insee" => ("Code INSEE de la commune", "INSEE code of the commune"),
            "department" | "departement" => ("Code du département", "département code"),
            "town" | "commune" => ("Nom de la commune", "commune name"),
            "towngroup" | "epci" => ("Nom de l'EPCI", "intercommunality (EPCI) name"),
            "country" | "pays" => ("Pays", "country"),
            "aom" => (
                "Autorité organisatrice de la mobilité (AOM)",
                "mobility authority (AOM)",
            ),
            "region" => ("Région", "region"),
            _ => ("", ""),
        };
        if !fr.is_empty() {
            return format!("{fr} du {side_fr} / {en} of the {side_en}.");
        }
    }
    // Incentive slots.
    let parts: Vec<&str> = name.split('_').collect();
    let field_text = |f: &str| match f {
        "siret" => ("SIRET du financeur", "funder's SIRET"),
        "name" => ("Nom du financeur", "funder's name"),
        "amount" => ("Montant en euros", "amount in euros"),
        "campaign" => ("Campagne", "campaign"),
        _ => ("", ""),
    };
    match parts.as_slice() {
        [who @ ("passenger" | "driver"), "incentive", "rpc", n, field] => {
            let (fr, en) = field_text(field);
            let who_fr = if *who == "passenger" {
                "passager"
            } else {
                "conducteur"
            };
            format!(
                "{fr} de l'incitation registre n°{n} du {who_fr} / {en} of the {who}'s registry (RPC) incentive #{n}."
            )
        }
        [who @ ("passenger" | "driver"), "incentive", n, field] => {
            let (fr, en) = field_text(field);
            let who_fr = if *who == "passenger" {
                "passager"
            } else {
                "conducteur"
            };
            format!(
                "{fr} de l'incitation opérateur n°{n} du {who_fr} / {en} of the {who}'s operator incentive #{n}."
            )
        }
        ["incentive", "rpc", n, "campaign", f] => {
            let (fr, en) = if *f == "id" {
                ("Numéro de la campagne", "campaign number")
            } else {
                ("Nom de la campagne", "campaign name")
            };
            format!("{fr} de l'incitation registre n°{n} / {en} of registry (RPC) incentive #{n}.")
        }
        ["incentive", "rpc", n, field] => {
            let (fr, en) = field_text(field);
            format!("{fr} de l'incitation registre n°{n} / {en} of registry (RPC) incentive #{n}.")
        }
        ["incentive", n, field] => {
            let (fr, en) = field_text(field);
            format!("{fr} de l'incitation opérateur n°{n} / {en} of operator incentive #{n}.")
        }
        _ => name.to_string(),
    }
}

fn describe_fixed(name: &str) -> Option<&'static str> {
    Some(match name {
        "journey_id" => "Numéro du trajet au registre / registry journey number.",
        "trip_id" => {
            "Identifiant du covoiturage regroupant les trajets d'un même équipage / id of the shared ride grouping its journeys."
        }
        "operator_trip_id" => "Identifiant du covoiturage chez l'opérateur / operator's trip id.",
        "operator_journey_id" => "Identifiant du trajet chez l'opérateur / operator's journey id.",
        "operator_class" => "Classe de preuve (A, B ou C) / proof class (A, B or C).",
        "status" => "Statut du trajet au registre / journey status in the registry.",
        "operator" => "Nom de l'opérateur / operator name.",
        "operator_passenger_id" => {
            "Identifiant du passager chez l'opérateur / operator's passenger id."
        }
        "operator_driver_id" => {
            "Identifiant du conducteur chez l'opérateur / operator's driver id."
        }
        "passenger_identity_key" => {
            "Clé d'identité inter-opérateurs du passager / registry cross-operator passenger identity key."
        }
        "driver_identity_key" => {
            "Clé d'identité inter-opérateurs du conducteur / registry cross-operator driver identity key."
        }
        "passenger_id" => "Identifiant registre du passager / registry passenger id (UUID).",
        "driver_id" => "Identifiant registre du conducteur / registry driver id (UUID).",
        "passenger_contribution" => {
            "Contribution payée par le passager, en euros / passenger's contribution in euros."
        }
        "driver_revenue" => "Revenu perçu par le conducteur, en euros / driver's revenue in euros.",
        "passenger_seats" => {
            "Nombre de places réservées par le passager / seats booked by the passenger."
        }
        "passenger_over_18" => "Passager majeur / the passenger is an adult.",
        "driver_card" => {
            "Le conducteur a utilisé une carte de transport / the driver used a travel pass card."
        }
        "passenger_card" => {
            "Le passager a utilisé une carte de transport / the passenger used a travel pass card."
        }
        "journey_distance" => "Distance du trajet en mètres / journey distance in metres.",
        "journey_distance_anounced" => {
            "Distance annoncée par l'opérateur, en mètres / distance announced by the operator, in metres."
        }
        "journey_distance_calculated" => {
            "Distance calculée par le registre, en mètres / distance calculated by the registry, in metres."
        }
        "journey_duration" => "Durée du trajet en minutes / journey duration in whole minutes.",
        "journey_duration_anounced" => {
            "Durée annoncée par l'opérateur, en minutes / duration announced by the operator, in minutes."
        }
        "journey_duration_calculated" => {
            "Durée calculée par le registre, en minutes / duration calculated by the registry, in minutes."
        }
        "duration" => "Durée du trajet / journey duration (h:mm:ss).",
        "distance" => "Distance du trajet en kilomètres / journey distance in kilometres.",
        "cee_application" => {
            "Le trajet compte pour un certificat d'économie d'énergie / the journey counts toward an energy-savings certificate (CEE)."
        }
        "incentive_type" => {
            "Type d'incitation : normal ou booster / incentive type: normal or booster."
        }
        "has_incentive" => {
            "Le trajet a une incitation validée par le registre / the journey has a validated registry incentive."
        }
        _ => return None,
    })
}
