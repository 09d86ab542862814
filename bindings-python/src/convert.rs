//! Python values to and from the engine's: JSON-shaped values (options, requests, jobs,
//! configuration) and cells ([`Value`]) of rows given as dicts or tuples.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use export_core::source::Value;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};
use serde_json::Value as Json;

static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UUID: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static PATH_LIKE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static UTC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A JSON-shaped Python value (dict with str keys, list, tuple, str, int, float, bool, None;
/// dates and decimals as text) as JSON. `what` names the argument in errors.
pub fn to_json(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Json> {
    let py = value.py();
    if value.is_none() {
        return Ok(Json::Null);
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(Json::Bool(value.extract()?));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Json::from(i));
        }
        return Ok(Json::from(value.extract::<u64>().map_err(|_| {
            PyTypeError::new_err(format!("{what}: integer {value} is out of range"))
        })?));
    }
    if value.is_instance_of::<PyFloat>() {
        let f: f64 = value.extract()?;
        return serde_json::Number::from_f64(f)
            .map(Json::Number)
            .ok_or_else(|| PyTypeError::new_err(format!("{what}: {f} is not a finite number")));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Json::String(s.to_cow()?.into_owned()));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut map = serde_json::Map::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| {
                    PyTypeError::new_err(format!("{what}: keys must be str, got {}", type_name(&k)))
                })?
                .to_cow()?
                .into_owned();
            let nested = format!("{what}.{key}");
            map.insert(key, to_json(&v, &nested)?);
        }
        return Ok(Json::Object(map));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for (i, item) in value.try_iter()?.enumerate() {
            items.push(to_json(&item?, &format!("{what}[{i}]"))?);
        }
        return Ok(Json::Array(items));
    }
    if value.is_instance(DATETIME.import(py, "datetime", "datetime")?)?
        || value.is_instance(DATE.import(py, "datetime", "date")?)?
    {
        return Ok(Json::String(
            value.call_method0("isoformat")?.extract::<String>()?,
        ));
    }
    if value.is_instance(PATH_LIKE.import(py, "os", "PathLike")?)? {
        return Ok(Json::String(
            py.import("os")?
                .call_method1("fspath", (value,))?
                .extract::<String>()?,
        ));
    }
    if value.is_instance(DECIMAL.import(py, "decimal", "Decimal")?)?
        || value.is_instance(UUID.import(py, "uuid", "UUID")?)?
    {
        return Ok(Json::String(value.str()?.to_cow()?.into_owned()));
    }
    Err(PyTypeError::new_err(format!(
        "{what}: a value of type {} cannot be given here (expected str, int, float, bool, None, list or dict)",
        type_name(value)
    )))
}

/// A JSON value as Python objects (dicts, lists, str, int, float, bool, None).
pub fn from_json<'py>(py: Python<'py>, value: &Json) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Json::Null => py.None().into_bound(py),
        Json::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Json::String(s) => PyString::new(py, s).into_any(),
        Json::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(from_json(py, item)?)?;
            }
            list.into_any()
        }
        Json::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, from_json(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// Any serialisable engine value (a job, a schedule, a status) as Python objects.
pub fn to_py<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_value(value)
        .map_err(|e| PyTypeError::new_err(format!("cannot convert a result: {e}")))?;
    from_json(py, &json)
}

/// One cell of a row. `Err` carries a message (the caller adds the row and column).
pub fn cell(value: &Bound<'_, PyAny>) -> PyResult<Result<Value, String>> {
    let py = value.py();
    // The common types first, by exact type: most cells are one of these.
    if value.is_none() {
        return Ok(Ok(Value::Null));
    }
    if let Ok(s) = value.cast_exact::<PyString>() {
        return Ok(Ok(Value::Text(s.to_cow()?.into_owned())));
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(Ok(Value::Bool(value.extract()?)));
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(match value.extract::<i64>() {
            Ok(i) => Ok(Value::Int(i)),
            Err(_) => Err(format!(
                "integer {value} does not fit in 64 bits; give it as a decimal.Decimal or a str"
            )),
        });
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(Ok(Value::Float(value.extract()?)));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Ok(Value::Text(s.to_cow()?.into_owned())));
    }
    // datetime.datetime is a subclass of datetime.date: test it first.
    if value.is_instance(DATETIME.import(py, "datetime", "datetime")?)? {
        return datetime(value);
    }
    if value.is_instance(DATE.import(py, "datetime", "date")?)? {
        return Ok(date(value)?.map(Value::Date));
    }
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(Ok(Value::Bytes(b.as_bytes().to_vec())));
    }
    if let Ok(b) = value.cast::<PyByteArray>() {
        return Ok(Ok(Value::Bytes(b.to_vec())));
    }
    if value.is_instance(DECIMAL.import(py, "decimal", "Decimal")?)? {
        if !value.call_method0("is_finite")?.extract::<bool>()? {
            return Ok(Err(format!("decimal {value} is not a finite number")));
        }
        // Plain digits (`format(d, "f")`), never the exponent form `str()` may give.
        let text: String = py
            .import("builtins")?
            .call_method1("format", (value, "f"))?
            .extract()?;
        return Ok(Ok(Value::Decimal(text)));
    }
    if value.is_instance(UUID.import(py, "uuid", "UUID")?)? {
        return Ok(Ok(Value::Text(value.str()?.to_cow()?.into_owned())));
    }
    if value.is_instance_of::<PyDict>()
        || value.is_instance_of::<PyList>()
        || value.is_instance_of::<PyTuple>()
    {
        return Ok(match to_json(value, "value") {
            Ok(json) => Ok(Value::Json(json)),
            Err(e) => Err(e.value(py).to_string()),
        });
    }
    Ok(Err(format!(
        "a value of type {} cannot be written (str, int, float, bool, None, bytes, date, datetime, Decimal, UUID, dict or list)",
        type_name(value)
    )))
}

/// `value.name` as `T`, the name interned once: these lookups run for every cell of a date
/// column, and a fresh name string each time cost most of their time.
macro_rules! field {
    ($value:expr, $name:literal) => {
        $value
            .getattr(pyo3::intern!($value.py(), $name))?
            .extract()?
    };
}

fn date(value: &Bound<'_, PyAny>) -> PyResult<Result<NaiveDate, String>> {
    let (y, m, d): (i32, u32, u32) = (
        field!(value, "year"),
        field!(value, "month"),
        field!(value, "day"),
    );
    Ok(NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| format!("{y}-{m}-{d} is not a date")))
}

fn datetime(value: &Bound<'_, PyAny>) -> PyResult<Result<Value, String>> {
    // An aware datetime is an instant: taken in UTC. A naive one is a wall-clock time.
    let py = value.py();
    let aware = !value.getattr(pyo3::intern!(py, "tzinfo"))?.is_none()
        && !value
            .call_method0(pyo3::intern!(py, "utcoffset"))?
            .is_none();
    let value = if aware {
        let utc = UTC.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py
                .import("datetime")?
                .getattr("timezone")?
                .getattr("utc")?
                .unbind())
        })?;
        value.call_method1(pyo3::intern!(py, "astimezone"), (utc.bind(py),))?
    } else {
        value.clone()
    };
    let day = match date(&value)? {
        Ok(d) => d,
        Err(e) => return Ok(Err(e)),
    };
    let (h, mi, s, us): (u32, u32, u32, u32) = (
        field!(value, "hour"),
        field!(value, "minute"),
        field!(value, "second"),
        field!(value, "microsecond"),
    );
    let Some(time) = NaiveTime::from_hms_micro_opt(h, mi, s, us) else {
        return Ok(Err(format!("{h}:{mi}:{s}.{us} is not a time of day")));
    };
    let naive = NaiveDateTime::new(day, time);
    Ok(Ok(if aware {
        Value::DateTimeUtc(DateTime::<Utc>::from_naive_utc_and_offset(naive, Utc))
    } else {
        Value::DateTime(naive)
    }))
}

/// `type(value).__name__`, for messages.
pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}
