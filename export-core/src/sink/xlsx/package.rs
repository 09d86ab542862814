//! The finished workbook: rust_xlsxwriter's parts around our spooled rows.
//!
//! At `finish`, rust_xlsxwriter builds the workbook with the same sheets but no data rows
//! ([`skeleton`]): header row and its style, number formats, widths, frozen pane, autofilter over
//! the final range, styles, workbook, content types, document properties. Each sheet's XML is
//! split around its rows ([`SplitSheet`]); the zip is then written by [`ZipOut`]: every other part
//! copied as rust_xlsxwriter compressed it, and each sheet entry made of its deflated prefix, the
//! spooled row chunks and its deflated suffix, one valid deflate stream ([`super::deflate`]).
//!
//! To register the columns' number formats, the skeleton writes one probe row (row 2) with each
//! formatted column's format; the probe is cut out, after checking that rust_xlsxwriter gave each
//! format the style index our rows already carry.

use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crc32fast::Hasher as Crc;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};

use super::deflate::PieceDeflater;
use super::spool::{SheetSpool, push_window};
use super::zip_out::{DEFLATED, STORED, ZipOut};
use super::{ColumnSpec, xlsx_error};
use crate::error::{ExportError, Result};

/// One sheet of the workbook, as `write` left it.
pub(super) struct SheetPlan {
    pub(super) name: String,
    pub(super) columns: std::sync::Arc<[ColumnSpec]>,
    /// The style index each column's cells carry (0: none).
    pub(super) xf: Vec<u32>,
    /// Data rows (below the header), for the autofilter.
    pub(super) rows: u32,
    /// The last Excel row (0-based) holding a written `<row>`; 0 when only the header.
    pub(super) last_row: u32,
    /// The deflated rows; `None` for a sheet without any.
    pub(super) spool: Option<SheetSpool>,
}

/// The workbook-wide options the skeleton needs.
pub(super) struct Look<'a> {
    pub(super) header_format: &'a Format,
    pub(super) freeze_header: bool,
    pub(super) autofilter: bool,
    pub(super) tempdir: Option<&'a Path>,
    /// The creation time in the document properties (default: now).
    pub(super) created: Option<chrono::DateTime<chrono::Utc>>,
}

/// rust_xlsxwriter's workbook with `sheets`' header rows, formats and layout but no data rows
/// (plus the probe row), as zip bytes.
fn skeleton(sheets: &[SheetPlan], look: &Look<'_>) -> Result<Vec<u8>> {
    let mut workbook = Workbook::new();
    if let Some(dir) = look.tempdir {
        workbook.set_tempdir(dir).map_err(xlsx_error)?;
    }
    if let Some(at) = look.created {
        let at = ExcelDateTime::from_timestamp(at.timestamp()).map_err(xlsx_error)?;
        workbook.set_properties(&DocProperties::new().set_creation_datetime(&at));
    }
    for sheet in sheets {
        // Constant-memory sheets, as the rows were planned for: formats take workbook-wide style
        // indices in the order of first use.
        let ws = workbook
            .add_worksheet_with_constant_memory()
            .map_err(xlsx_error)?;
        ws.set_name(sheet.name.as_str()).map_err(xlsx_error)?;
        for (c, column) in sheet.columns.iter().enumerate() {
            let c = c as u16; // at most 16,384 columns, checked when the sheet started
            ws.write_string_with_format(0, c, column.name.as_str(), look.header_format)
                .map_err(xlsx_error)?;
            ws.set_column_width(c, column.width).map_err(xlsx_error)?;
        }
        for (c, column) in sheet.columns.iter().enumerate() {
            if let Some(format) = &column.format {
                ws.write_number_with_format(1, c as u16, 0.0, format)
                    .map_err(xlsx_error)?;
            }
        }
        if look.freeze_header {
            ws.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        }
        if look.autofilter && !sheet.columns.is_empty() {
            let last_col = (sheet.columns.len() - 1) as u16;
            ws.autofilter(0, 0, sheet.rows, last_col)
                .map_err(xlsx_error)?;
        }
    }
    workbook.save_to_buffer().map_err(xlsx_error)
}

/// A skeleton sheet's XML cut around its data rows.
#[derive(Debug, PartialEq)]
pub(super) struct SplitSheet {
    /// Everything up to the header row's end, with the final `<dimension>`.
    pub(super) prefix: String,
    /// `</sheetData>` and everything after it.
    pub(super) suffix: String,
}

/// Cuts `xml` after its header row, drops the probe row after checking its style indices
/// against `xf`, and sets the dimension to `dimension`.
///
/// # Errors
///
/// [`ExportError::Encode`] when the XML is not shaped as rust_xlsxwriter writes it, or when a
/// probe cell's style index is not the one in `xf`: the rows would carry wrong styles.
pub(super) fn split_sheet(xml: &str, xf: &[u32], dimension: &str) -> Result<SplitSheet> {
    let bad = |what: &str| ExportError::Encode {
        format: "xlsx",
        reason: format!("unexpected worksheet XML from rust_xlsxwriter: {what}"),
    };
    let (head, inner, tail) = if let Some(at) = xml.find("<sheetData/>") {
        (&xml[..at], "", &xml[at + "<sheetData/>".len()..])
    } else {
        let open = xml
            .find("<sheetData>")
            .ok_or_else(|| bad("no <sheetData>"))?;
        let close = xml
            .find("</sheetData>")
            .ok_or_else(|| bad("no </sheetData>"))?;
        let body = open + "<sheetData>".len();
        (
            &xml[..open],
            &xml[body..close],
            &xml[close + "</sheetData>".len()..],
        )
    };
    let (header, probe) = if inner.starts_with("<row r=\"1\"") {
        let end = inner
            .find("</row>")
            .ok_or_else(|| bad("an unclosed header row"))?;
        inner.split_at(end + "</row>".len())
    } else {
        ("", inner)
    };
    for (c, &expected) in xf.iter().enumerate() {
        if expected == 0 {
            continue;
        }
        let cell = format!(
            "<c r=\"{}2\" s=\"",
            rust_xlsxwriter::utility::column_number_to_name(c as u16)
        );
        let got = probe
            .find(&cell)
            .and_then(|at| probe[at + cell.len()..].split('"').next())
            .and_then(|s| s.parse::<u32>().ok());
        if got != Some(expected) {
            return Err(ExportError::Encode {
                format: "xlsx",
                reason: format!(
                    "style of column {} is {got:?} in rust_xlsxwriter's styles but {expected} in the rows",
                    c + 1
                ),
            });
        }
    }
    if !xf.iter().any(|&x| x > 0) && !probe.is_empty() {
        return Err(bad("rows after the header"));
    }
    let head = match head.find("<dimension ref=\"") {
        Some(at) => {
            let start = at + "<dimension ref=\"".len();
            let end = head[start..]
                .find('"')
                .ok_or_else(|| bad("an unclosed dimension"))?
                + start;
            format!("{}{dimension}{}", &head[..start], &head[end..])
        }
        None => head.to_string(),
    };
    Ok(SplitSheet {
        prefix: format!("{head}<sheetData>{header}"),
        suffix: format!("</sheetData>{tail}"),
    })
}

/// The `<dimension>` of a sheet of `columns` columns whose last row is `last_row` (0-based).
fn dimension(columns: usize, last_row: u32) -> String {
    if columns == 0 {
        return "A1".into();
    }
    let last = rust_xlsxwriter::utility::row_col_to_cell(last_row, (columns - 1) as u16);
    if last == "A1" {
        last
    } else {
        format!("A1:{last}")
    }
}

/// Writes the workbook of `sheets` to `writer`; returns it and the bytes written.
///
/// # Errors
///
/// [`ExportError::Io`] when the writer or a spool file fails; the errors of rust_xlsxwriter
/// building the skeleton; [`ExportError::Encode`] as [`split_sheet`].
pub(super) fn write_workbook<W: Write>(
    writer: W,
    sheets: &mut [SheetPlan],
    look: &Look<'_>,
) -> Result<(W, u64)> {
    let bytes = skeleton(sheets, look)?;
    let mut parts = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_error)?;
    let mut zip = ZipOut::new(writer);
    let io = |source| ExportError::Io { path: None, source };
    for i in 0..parts.len() {
        let name = match parts.name_for_index(i) {
            Some(n) => n.map_err(zip_error)?.to_string(),
            None => continue,
        };
        let sheet = name
            .strip_prefix("xl/worksheets/sheet")
            .and_then(|n| n.strip_suffix(".xml"))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=sheets.len()).contains(n));
        if let Some(n) = sheet {
            let mut xml = String::new();
            parts
                .by_index(i)
                .map_err(zip_error)?
                .read_to_string(&mut xml)
                .map_err(io)?;
            write_sheet(&mut zip, &name, &xml, &mut sheets[n - 1])?;
        } else {
            let mut part = parts.by_index_raw(i).map_err(zip_error)?;
            let method = match part.compression() {
                zip::CompressionMethod::Deflated => DEFLATED,
                zip::CompressionMethod::Stored => STORED,
                other => {
                    return Err(ExportError::Encode {
                        format: "xlsx",
                        reason: format!(
                            "rust_xlsxwriter part `{name}` is compressed with {other:?}"
                        ),
                    });
                }
            };
            let (crc, compressed, size) = (part.crc32(), part.compressed_size(), part.size());
            let mut raw = Vec::with_capacity(compressed as usize);
            part.read_to_end(&mut raw).map_err(io)?;
            zip.begin(&name, method, crc, compressed, size)
                .map_err(io)?;
            zip.data(&raw).map_err(io)?;
        }
    }
    zip.finish().map_err(io)
}

/// Writes one sheet entry: deflated prefix, spooled rows, deflated suffix.
fn write_sheet<W: Write>(
    zip: &mut ZipOut<W>,
    name: &str,
    xml: &str,
    sheet: &mut SheetPlan,
) -> Result<()> {
    let io = |source| ExportError::Io { path: None, source };
    let split = split_sheet(
        xml,
        &sheet.xf,
        &dimension(sheet.columns.len(), sheet.last_row),
    )?;
    let prefix = split.prefix.as_bytes();
    let suffix = split.suffix.as_bytes();
    let (rows_crc, rows_size, rows_compressed, rows_tail) = match &sheet.spool {
        Some(s) => (s.crc.clone(), s.size, s.compressed, s.tail.clone()),
        None => (Crc::new(), 0, 0, Vec::new()),
    };
    // The suffix's dictionary: the 32 KiB before it, reaching into the prefix for short sheets.
    let mut window = Vec::new();
    push_window(&mut window, prefix);
    push_window(&mut window, &rows_tail);

    let mut deflater = PieceDeflater::new();
    let (mut head, mut foot) = (Vec::new(), Vec::new());
    deflater
        .deflate(&[], prefix, false, &mut head)
        .map_err(io)?;
    deflater
        .deflate(&window, suffix, true, &mut foot)
        .map_err(io)?;
    let mut crc = Crc::new();
    crc.update(prefix);
    crc.combine(&rows_crc);
    let mut suffix_crc = Crc::new();
    suffix_crc.update(suffix);
    crc.combine(&suffix_crc);
    let compressed = head.len() as u64 + rows_compressed + foot.len() as u64;
    let size = prefix.len() as u64 + rows_size + suffix.len() as u64;

    zip.begin(name, DEFLATED, crc.finalize(), compressed, size)
        .map_err(io)?;
    zip.data(&head).map_err(io)?;
    if let Some(spool) = &mut sheet.spool {
        spool.file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut block = vec![0; 256 * 1024];
        let mut left = spool.compressed;
        while left > 0 {
            let n = (block.len() as u64).min(left) as usize;
            spool.file.read_exact(&mut block[..n]).map_err(io)?;
            zip.data(&block[..n]).map_err(io)?;
            left -= n as u64;
        }
    }
    zip.data(&foot).map_err(io)
}

fn zip_error(e: zip::result::ZipError) -> ExportError {
    match e {
        zip::result::ZipError::Io(source) => ExportError::Io { path: None, source },
        other => ExportError::Io {
            path: None,
            source: io::Error::other(other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = concat!(
        r#"<worksheet><dimension ref="A1:B2"/><sheetData>"#,
        r#"<row r="1"><c r="A1" s="1" t="inlineStr"><is><t>a</t></is></c></row>"#,
        r#"<row r="2"><c r="B2" s="2"><v>0</v></c></row>"#,
        r#"</sheetData><autoFilter ref="A1:B9"/></worksheet>"#
    );

    #[test]
    fn a_sheet_is_cut_after_its_header_and_its_probe_row_dropped() {
        let split = split_sheet(XML, &[0, 2], "A1:B9").unwrap();
        assert_eq!(
            split.prefix,
            r#"<worksheet><dimension ref="A1:B9"/><sheetData><row r="1"><c r="A1" s="1" t="inlineStr"><is><t>a</t></is></c></row>"#
        );
        assert_eq!(
            split.suffix,
            r#"</sheetData><autoFilter ref="A1:B9"/></worksheet>"#
        );
    }

    #[test]
    fn a_style_index_other_than_planned_is_an_error() {
        let err = split_sheet(XML, &[0, 3], "A1:B9").unwrap_err();
        assert!(err.to_string().contains("column 2"), "{err}");
        // A probe row where no column is formatted is not rust_xlsxwriter's shape either.
        assert!(split_sheet(XML, &[0, 0], "A1").is_err());
    }

    #[test]
    fn an_empty_sheet_data_element_is_opened() {
        let xml = r#"<worksheet><dimension ref="A1"/><sheetData/><pageMargins/></worksheet>"#;
        let split = split_sheet(xml, &[], "A1").unwrap();
        assert_eq!(
            split.prefix,
            r#"<worksheet><dimension ref="A1"/><sheetData>"#
        );
        assert_eq!(split.suffix, "</sheetData><pageMargins/></worksheet>");
    }

    #[test]
    fn dimensions_span_the_columns_and_the_last_row() {
        assert_eq!(dimension(0, 0), "A1");
        assert_eq!(dimension(1, 0), "A1");
        assert_eq!(dimension(10, 1_000_000), "A1:J1000001");
    }
}
