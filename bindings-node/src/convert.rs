//! JS values to the engine's: JSON-shaped values (options, requests) and cells ([`Value`]) of
//! rows given as objects or arrays; camelCase option keys to the snake_case of the core.

use chrono::DateTime;
use export_core::source::Value;
use napi::bindgen_prelude::{
    Array, BigInt, BufferSlice, JsObjectValue, Object, Uint8ArraySlice, Unknown,
};
use napi::{JsDate, JsValue, ValueType};
use serde_json::Value as Json;

/// Why a JS value cannot be taken: a message, to which the caller adds where.
pub type Refused = String;

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// `typeof`-like name of a value, for messages.
pub fn type_name(value: &Unknown<'_>) -> &'static str {
    match value.get_type() {
        Ok(ValueType::Undefined) => "undefined",
        Ok(ValueType::Null) => "null",
        Ok(ValueType::Boolean) => "boolean",
        Ok(ValueType::Number) => "number",
        Ok(ValueType::String) => "string",
        Ok(ValueType::Symbol) => "symbol",
        Ok(ValueType::Function) => "function",
        Ok(ValueType::BigInt) => "bigint",
        Ok(ValueType::External) => "external",
        Ok(ValueType::Object) => {
            if value.is_array().unwrap_or(false) {
                "array"
            } else if value.is_buffer().unwrap_or(false) {
                "Buffer"
            } else if value.is_typedarray().unwrap_or(false) {
                "typed array"
            } else if value.is_date().unwrap_or(false) {
                "Date"
            } else {
                "object"
            }
        }
        _ => "value",
    }
}

fn napi(e: napi::Error) -> Refused {
    e.reason
}

/// The bytes of a `Buffer` or `Uint8Array` (`None` for any other value).
pub fn bytes(value: &Unknown<'_>) -> Result<Option<Vec<u8>>, Refused> {
    if value.get_type().map_err(napi)? != ValueType::Object {
        return Ok(None);
    }
    if value.is_buffer().map_err(napi)? {
        let slice = unsafe { value.cast::<BufferSlice>() }.map_err(napi)?;
        return Ok(Some(slice.to_vec()));
    }
    if value.is_typedarray().map_err(napi)? {
        let slice = unsafe { value.cast::<Uint8ArraySlice>() }
            .map_err(|_| "a typed array other than Uint8Array cannot be given".to_string())?;
        return Ok(Some(slice.to_vec()));
    }
    Ok(None)
}

/// A JSON-shaped JS value (object, array, string, number, boolean, null; `undefined` members
/// left out, Dates as ISO text). `what` names the value in messages.
pub fn to_json(value: &Unknown<'_>, what: &str) -> Result<Json, Refused> {
    Ok(match value.get_type().map_err(napi)? {
        ValueType::Undefined | ValueType::Null => Json::Null,
        ValueType::Boolean => Json::Bool(unsafe { value.cast::<bool>() }.map_err(napi)?),
        ValueType::Number => {
            let f = unsafe { value.cast::<f64>() }.map_err(napi)?;
            if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER {
                Json::from(f as i64)
            } else {
                serde_json::Number::from_f64(f)
                    .map(Json::Number)
                    .ok_or_else(|| format!("{what}: {f} is not a finite number"))?
            }
        }
        ValueType::String => Json::String(unsafe { value.cast::<String>() }.map_err(napi)?),
        ValueType::BigInt => {
            let big = unsafe { value.cast::<BigInt>() }.map_err(napi)?;
            match big.get_i64() {
                (i, true) => Json::from(i),
                _ => return Err(format!("{what}: the bigint does not fit in 64 bits")),
            }
        }
        ValueType::Object if value.is_date().map_err(napi)? => match date(value)? {
            Value::DateTimeUtc(t) => {
                Json::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            }
            _ => unreachable!("a Date is an instant"),
        },
        ValueType::Object if value.is_array().map_err(napi)? => {
            let array = unsafe { value.cast::<Array>() }.map_err(napi)?;
            let mut items = Vec::with_capacity(array.len() as usize);
            for i in 0..array.len() {
                let item: Unknown = array.get(i).map_err(napi)?.ok_or("hole")?;
                items.push(to_json(&item, &format!("{what}[{i}]"))?);
            }
            Json::Array(items)
        }
        ValueType::Object if bytes(value)?.is_none() => {
            let object = unsafe { value.cast::<Object>() }.map_err(napi)?;
            let mut map = serde_json::Map::new();
            for key in Object::keys(&object).map_err(napi)? {
                let item: Unknown = object.get_named_property(&key).map_err(napi)?;
                if item.get_type().map_err(napi)? == ValueType::Undefined {
                    continue;
                }
                let nested = format!("{what}.{key}");
                map.insert(key, to_json(&item, &nested)?);
            }
            Json::Object(map)
        }
        _ => {
            return Err(format!(
                "{what}: a {} cannot be given here (expected a string, number, boolean, null, array or object)",
                type_name(value)
            ));
        }
    })
}

/// One cell of a row.
pub fn cell(value: &Unknown<'_>) -> Result<Value, Refused> {
    Ok(match value.get_type().map_err(napi)? {
        ValueType::Undefined | ValueType::Null => Value::Null,
        ValueType::String => Value::Text(unsafe { value.cast::<String>() }.map_err(napi)?),
        ValueType::Number => number(unsafe { value.cast::<f64>() }.map_err(napi)?),
        ValueType::Boolean => Value::Bool(unsafe { value.cast::<bool>() }.map_err(napi)?),
        ValueType::BigInt => {
            let big = unsafe { value.cast::<BigInt>() }.map_err(napi)?;
            match big.get_i64() {
                (i, true) => Value::Int(i),
                _ => return Err("the bigint does not fit in 64 bits; give it as a string".into()),
            }
        }
        ValueType::Object => {
            if value.is_date().map_err(napi)? {
                return date(value);
            }
            if let Some(b) = bytes(value)? {
                return Ok(Value::Bytes(b));
            }
            Value::Json(to_json(value, "value")?)
        }
        _ => {
            return Err(format!(
                "a {} cannot be written (string, number, boolean, bigint, null, Date, Buffer, object or array)",
                type_name(value)
            ));
        }
    })
}

/// A JS number: a double, so whole numbers are integers and the rest floats (a column of both
/// is a float column).
pub fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER {
        Value::Int(f as i64)
    } else {
        Value::Float(f)
    }
}

fn date(value: &Unknown<'_>) -> Result<Value, Refused> {
    let ms = unsafe { value.cast::<JsDate>() }
        .and_then(|d| d.value_of())
        .map_err(napi)?;
    date_ms(ms)
}

/// A `Date`'s time value (milliseconds since the epoch, UTC).
pub fn date_ms(ms: f64) -> Result<Value, Refused> {
    if !ms.is_finite() {
        return Err("an invalid Date cannot be written".into());
    }
    DateTime::from_timestamp_millis(ms as i64)
        .map(Value::DateTimeUtc)
        .ok_or_else(|| format!("the Date {ms} is out of range"))
}

/// `sheetName` -> `sheet_name`.
pub fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `sheet_name` -> `sheetName`.
pub fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Option objects whose keys are options too (their keys are converted); the keys of the
/// others (`rename`, `columnWidths`) are column names, kept as they are.
const NESTED_OPTIONS: &[&str] = &["header_style", "options"];

/// The options object with its keys in snake_case (the top level and [`NESTED_OPTIONS`]).
pub fn snake_keys(value: Json) -> Json {
    match value {
        Json::Object(map) => Json::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let k = snake(&k);
                    let v = if NESTED_OPTIONS.contains(&k.as_str()) {
                        snake_keys(v)
                    } else {
                        v
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// A message of `WriteOptions::from_json` with the option names back in camelCase: the
/// field path, and every `name` quoted in backticks.
pub fn camel_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..=start]);
        rest = &rest[start + 1..];
        match rest.find('`') {
            Some(end) => {
                let name = &rest[..end];
                if name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    out.push_str(&name.split('.').map(camel).collect::<Vec<_>>().join("."));
                } else {
                    out.push_str(name);
                }
                out.push('`');
                rest = &rest[end + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}
