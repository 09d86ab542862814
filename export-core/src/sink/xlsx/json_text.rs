//! Compact JSON text of nested values (struct, list, map), for XLSX cells that cannot hold them.
//!
//! Structs become objects keyed by field name, lists become arrays, maps become objects when their
//! keys are strings (else arrays of `[key, value]` pairs). Numbers and booleans keep their JSON
//! types; non-finite floats become `null`; decimals are written as JSON numbers with their exact
//! digits. Other leaf types (dates, timestamps, binary, ...) are written as JSON strings of
//! Arrow's display form (`2026-10-03`, `2026-10-03T08:20:00Z`).

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;

use crate::error::Result;

/// Appends the JSON text of `array[i]` to `out`.
pub(super) fn write_json(out: &mut String, array: &dyn Array, i: usize) -> Result<()> {
    if array.is_null(i) {
        out.push_str("null");
        return Ok(());
    }
    match array.data_type() {
        DataType::Null => out.push_str("null"),
        DataType::Boolean => out.push_str(if array.as_boolean().value(i) {
            "true"
        } else {
            "false"
        }),
        DataType::Int8 => push_int(out, array.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => push_int(out, array.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => push_int(out, array.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => push_int(out, array.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => push_int(out, array.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => push_int(out, array.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => push_int(out, array.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => push_int(out, array.as_primitive::<UInt64Type>().value(i)),
        DataType::Float16 => push_f32(out, array.as_primitive::<Float16Type>().value(i).to_f32()),
        DataType::Float32 => push_f32(out, array.as_primitive::<Float32Type>().value(i)),
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(i);
            if v.is_finite() {
                out.push_str(ryu::Buffer::new().format_finite(v));
            } else {
                out.push_str("null");
            }
        }
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => {
            let text = ArrayFormatter::try_new(array, &FormatOptions::default())?
                .value(i)
                .to_string();
            out.push_str(&text);
        }
        DataType::Utf8 => push_str(out, array.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => push_str(out, array.as_string::<i64>().value(i)),
        DataType::Utf8View => push_str(out, array.as_string_view().value(i)),
        DataType::Struct(fields) => {
            let s = array.as_struct();
            out.push('{');
            for (j, field) in fields.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                push_str(out, field.name());
                out.push(':');
                write_json(out, s.column(j).as_ref(), i)?;
            }
            out.push('}');
        }
        DataType::List(_) => push_items(out, &array.as_list::<i32>().value(i))?,
        DataType::LargeList(_) => push_items(out, &array.as_list::<i64>().value(i))?,
        DataType::FixedSizeList(..) => push_items(out, &array.as_fixed_size_list().value(i))?,
        DataType::Map(..) => {
            let entries = array.as_map().value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            let string_keys = matches!(
                keys.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            );
            out.push(if string_keys { '{' } else { '[' });
            for j in 0..entries.len() {
                if j > 0 {
                    out.push(',');
                }
                if string_keys {
                    write_json(out, keys.as_ref(), j)?;
                    out.push(':');
                    write_json(out, values.as_ref(), j)?;
                } else {
                    out.push('[');
                    write_json(out, keys.as_ref(), j)?;
                    out.push(',');
                    write_json(out, values.as_ref(), j)?;
                    out.push(']');
                }
            }
            out.push(if string_keys { '}' } else { ']' });
        }
        _ => {
            let text = ArrayFormatter::try_new(array, &FormatOptions::default())?
                .value(i)
                .to_string();
            push_str(out, &text);
        }
    }
    Ok(())
}

fn push_items(out: &mut String, items: &ArrayRef) -> Result<()> {
    out.push('[');
    for j in 0..items.len() {
        if j > 0 {
            out.push(',');
        }
        write_json(out, items.as_ref(), j)?;
    }
    out.push(']');
    Ok(())
}

fn push_int<I: itoa::Integer>(out: &mut String, v: I) {
    out.push_str(itoa::Buffer::new().format(v));
}

fn push_f32(out: &mut String, v: f32) {
    if v.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(v));
    } else {
        out.push_str("null");
    }
}

/// Appends `s` as a JSON string literal.
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(HEX[b >> 4] as char);
                out.push(HEX[b & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{Int64Builder, ListBuilder};
    use arrow_array::{Int32Array, StringArray, StructArray};
    use arrow_schema::Field;

    use super::*;

    #[test]
    fn struct_and_list_are_compact_json() {
        let s = StructArray::from(vec![
            (
                Arc::new(Field::new("name", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("a\"b\n"), None])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("n", DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![Some(1), Some(-2)])) as ArrayRef,
            ),
        ]);
        let mut out = String::new();
        write_json(&mut out, &s, 0).unwrap();
        assert_eq!(out, r#"{"name":"a\"b\n","n":1}"#);
        out.clear();
        write_json(&mut out, &s, 1).unwrap();
        assert_eq!(out, r#"{"name":null,"n":-2}"#);

        let mut b = ListBuilder::new(Int64Builder::new());
        b.append_value([Some(1), None, Some(3)]);
        b.append_null();
        let list = b.finish();
        out.clear();
        write_json(&mut out, &list, 0).unwrap();
        assert_eq!(out, "[1,null,3]");
        out.clear();
        write_json(&mut out, &list, 1).unwrap();
        assert_eq!(out, "null");
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut out = String::new();
        push_str(&mut out, "\u{1}é");
        assert_eq!(out, "\"\\u0001é\"");
    }
}
