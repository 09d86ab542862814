//! The `<row>` XML of a sheet's data rows, written straight into a byte buffer.
//!
//! The cells are those rust_xlsxwriter's constant-memory worksheets write for the same calls
//! (`write_number`, `write_boolean`, `write_string` with inline strings, with or without a
//! format): same elements, same style attribute, same escapes, same `xml:space` rule, same
//! skipped cells (unformatted blanks and empty texts, and rows with no cell at all). Only the
//! number text may differ in form, never in value: integers by `itoa`, other floats as their
//! shortest round-trip decimal by `zmij` (`1e-7` where rust_xlsxwriter writes `0.0000001`).

use std::borrow::Cow;

use super::cells::{Cell, ColumnCells};

/// The fixed text around one column's cells.
pub(super) struct ColumnXml {
    /// `<c r="B`: the row number follows.
    open: Vec<u8>,
    /// `" s="3"` or `"`, before the cell's type and value.
    style: Vec<u8>,
    /// Whether the column has a format (formatted blank cells are written, like Excel does).
    formatted: bool,
}

impl ColumnXml {
    /// Column `col` (0-based), with style index `xf` (0: none).
    pub(super) fn new(col: u16, xf: u32) -> ColumnXml {
        let mut open = b"<c r=\"".to_vec();
        open.extend_from_slice(rust_xlsxwriter::utility::column_number_to_name(col).as_bytes());
        let style = if xf > 0 {
            format!("\" s=\"{xf}\"").into_bytes()
        } else {
            b"\"".to_vec()
        };
        ColumnXml {
            open,
            style,
            formatted: xf > 0,
        }
    }
}

/// Appends the `<row>` of Excel row `row1` (1-based) holding row `i` of `cells` to `out`, or
/// nothing when every cell is skipped. Returns whether the row was written.
///
/// # Errors
///
/// The column index and reason of the first cell that cannot be written (`out` then holds a
/// partial row: the caller abandons the sheet).
pub(super) fn write_row(
    out: &mut Vec<u8>,
    columns: &[ColumnXml],
    cells: &[ColumnCells<'_>],
    row1: u32,
    i: usize,
    scratch: &mut String,
) -> Result<bool, (usize, String)> {
    let start = out.len();
    let mut digits = itoa::Buffer::new();
    let row_text = digits.format(row1).as_bytes();
    out.extend_from_slice(b"<row r=\"");
    out.extend_from_slice(row_text);
    out.extend_from_slice(b"\">");
    let mut any = false;
    for (c, (column, values)) in columns.iter().zip(cells).enumerate() {
        let cell = values.cell(i, scratch).map_err(|reason| (c, reason))?;
        let open = |out: &mut Vec<u8>| {
            out.extend_from_slice(&column.open);
            out.extend_from_slice(row_text);
            out.extend_from_slice(&column.style);
        };
        match cell {
            Cell::Blank => continue,
            Cell::Text("") => {
                if !column.formatted {
                    continue;
                }
                open(out);
                out.extend_from_slice(b"/>");
            }
            Cell::Integer(v) => {
                open(out);
                out.extend_from_slice(b"><v>");
                out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
                out.extend_from_slice(b"</v></c>");
            }
            Cell::Number(v) => {
                open(out);
                out.extend_from_slice(b"><v>");
                push_number(out, v);
                out.extend_from_slice(b"</v></c>");
            }
            Cell::Bool(b) => {
                open(out);
                out.extend_from_slice(if b {
                    b" t=\"b\"><v>1</v></c>"
                } else {
                    b" t=\"b\"><v>0</v></c>"
                });
            }
            Cell::Text(s) => {
                open(out);
                out.extend_from_slice(b" t=\"inlineStr\"><is><t");
                if s.starts_with(['\t', '\n', ' ']) || s.ends_with(['\t', '\n', ' ']) {
                    out.extend_from_slice(b" xml:space=\"preserve\"");
                }
                out.push(b'>');
                push_escaped(out, s);
                out.extend_from_slice(b"</t></is></c>");
            }
        }
        any = true;
    }
    if any {
        out.extend_from_slice(b"</row>");
    } else {
        out.truncate(start);
    }
    Ok(any)
}

/// Largest magnitude below which an integral `f64` is written as an integer.
const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53

/// A finite `f64` as the shortest text that reads back as the same value.
fn push_number(out: &mut Vec<u8>, v: f64) {
    if v.fract() == 0.0 && v.abs() < EXACT {
        if v == 0.0 && v.is_sign_negative() {
            out.extend_from_slice(b"-0");
        } else {
            out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
        }
    } else {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    }
}

/// Appends `s` escaped as rust_xlsxwriter escapes cell text: `&`, `<`, `>` as entities; control
/// characters (but tab and line feed) and U+FFFE/U+FFFF as `_xHHHH_`; and a literal `_xHHHH_` in
/// the text as `_x005F_xHHHH_`, so that Excel does not read it as an escape.
pub(super) fn push_escaped(out: &mut Vec<u8>, s: &str) {
    let plain = !s
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | 0x00..=0x1F | 0xEF))
        && !s.contains("_x");
    if plain {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    let escaped = escape_literal_escapes(s);
    for ch in escaped.chars() {
        match ch {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '\t' | '\n' => out.push(ch as u8),
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => {
                out.extend_from_slice(format!("_x{:04X}_", u32::from(ch)).as_bytes());
            }
            _ => {
                let mut utf8 = [0; 4];
                out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
}

/// `s` with `_x005F` before every `_xHHHH_` it holds literally.
fn escape_literal_escapes(s: &str) -> Cow<'_, str> {
    const LEN: usize = 7; // `_xHHHH_`
    let bytes = s.as_bytes();
    let is_escape = |i: usize| {
        i + LEN <= bytes.len()
            && bytes[i + LEN - 1] == b'_'
            && bytes[i + 2..i + LEN - 1].iter().all(u8::is_ascii_hexdigit)
    };
    if !s.match_indices("_x").any(|(i, _)| is_escape(i)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 12);
    let mut last = 0;
    for (i, _) in s.match_indices("_x") {
        if is_escape(i) {
            out.push_str(&s[last..i]);
            out.push_str("_x005F");
            last = i;
        }
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        push_escaped(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    fn number(v: f64) -> String {
        let mut out = Vec::new();
        push_number(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn texts_are_escaped_as_rust_xlsxwriter_escapes_them() {
        assert_eq!(escaped("plain é"), "plain é");
        assert_eq!(escaped("a<b & c>d"), "a&lt;b &amp; c&gt;d");
        assert_eq!(escaped("tab\tline\nbell\u{7}"), "tab\tline\nbell_x0007_");
        assert_eq!(escaped("x\u{FFFE}"), "x_xFFFE_");
        assert_eq!(
            escaped("_x0041_ and _x12_ and _xZZZZ_"),
            "_x005F_x0041_ and _x12_ and _xZZZZ_"
        );
        assert_eq!(escaped("status_x"), "status_x");
        assert_eq!(escaped("\u{1}_x00e9_"), "_x0001__x005F_x00e9_");
    }

    #[test]
    fn numbers_read_back_as_the_same_value() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -17.0,
            0.1,
            1e-7,
            1e300,
            46298.541666666664,
            9.007199254740993e15,
        ] {
            let text = number(v);
            let back: f64 = text.parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v} as {text}");
        }
        assert_eq!(number(42.0), "42");
        assert_eq!(number(-0.0), "-0");
    }
}
