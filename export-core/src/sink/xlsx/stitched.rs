//! The fast path of the XLSX sink: rows written as XML by [`super::rows`], deflated in parallel
//! chunks by [`super::spool`], and packaged with rust_xlsxwriter's other parts by
//! [`super::package`] at `finish`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use rust_xlsxwriter::Format;

use super::cells::ColumnCells;
use super::package::{Look, SheetPlan, write_workbook};
use super::rows::{ColumnXml, write_row};
use super::spool::{CHUNK, Deflaters, SheetSpool};
use super::{ColumnSpec, XlsxSinkBuilder};
use crate::error::{ExportError, Result};

/// The sheets written so far and the one receiving rows.
pub(super) struct StitchedBook {
    deflaters: Deflaters,
    tempdir: Option<PathBuf>,
    created: Option<chrono::DateTime<chrono::Utc>>,
    freeze_header: bool,
    autofilter: bool,
    header_format: Format,
    /// Formats in style-index order as rust_xlsxwriter numbers them: index 0 is the default
    /// format, then each new format in the order of first use. The skeleton uses them in the same
    /// order (each sheet's header, then its columns), and the probe row checks the result.
    styles: Vec<Format>,
    sheets: Vec<SheetPlan>,
    /// The current sheet's cell texts and its unfinished chunk.
    current: Option<(Vec<ColumnXml>, Vec<u8>)>,
}

impl StitchedBook {
    pub(super) fn new(options: &XlsxSinkBuilder, header_format: Format) -> StitchedBook {
        StitchedBook {
            deflaters: Deflaters::new(options.threads),
            tempdir: options.tempdir.clone(),
            created: options.created,
            freeze_header: options.freeze_header,
            autofilter: options.autofilter,
            header_format,
            styles: vec![Format::default()],
            sheets: Vec::new(),
            current: None,
        }
    }

    fn style_of(&mut self, format: &Format) -> u32 {
        let index = match self.styles.iter().position(|f| f == format) {
            Some(i) => i,
            None => {
                self.styles.push(format.clone());
                self.styles.len() - 1
            }
        };
        index as u32 // at most one format per column of every sheet, far below u32::MAX
    }

    /// Starts sheet `name` (the previous one must be closed).
    ///
    /// # Errors
    ///
    /// [`ExportError::Io`] naming the temporary directory when its spool file cannot be made.
    pub(super) fn add_sheet(&mut self, name: &str, columns: &Arc<[ColumnSpec]>) -> Result<()> {
        let spool = SheetSpool::new(self.tempdir.as_deref())?;
        let header = self.header_format.clone();
        self.style_of(&header);
        let xf: Vec<u32> = columns
            .iter()
            .map(|c| c.format.as_ref().map_or(0, |f| self.style_of(f)))
            .collect();
        let xml = xf
            .iter()
            .enumerate()
            .map(|(c, &x)| ColumnXml::new(c as u16, x))
            .collect();
        self.current = Some((xml, self.deflaters.buffer()));
        self.sheets.push(SheetPlan {
            name: name.to_string(),
            columns: columns.clone(),
            xf,
            rows: 0,
            last_row: 0,
            spool: Some(spool),
        });
        Ok(())
    }

    /// Adds the one empty sheet of an export without batches.
    pub(super) fn add_empty_sheet(&mut self, name: &str) {
        self.sheets.push(SheetPlan {
            name: name.to_string(),
            columns: Arc::from(Vec::new()),
            xf: Vec::new(),
            rows: 0,
            last_row: 0,
            spool: None,
        });
    }

    /// Writes rows `start..start + count` of `cells` below the current sheet's first
    /// `rows_in_sheet` data rows. `error` makes the error of a cell (column index, row of the
    /// batch counted from `start`, reason).
    ///
    /// # Errors
    ///
    /// The cell's error from `error`; the errors of [`Deflaters::submit`].
    pub(super) fn write_rows(
        &mut self,
        cells: &[ColumnCells<'_>],
        start: usize,
        count: u32,
        rows_in_sheet: u32,
        scratch: &mut String,
        error: impl Fn(usize, u32, String) -> ExportError,
    ) -> Result<()> {
        let (Some((columns, buf)), Some(sheet)) = (&mut self.current, self.sheets.last_mut())
        else {
            return Ok(());
        };
        for k in 0..count {
            let row = rows_in_sheet + 1 + k; // 0-based Excel row; the header is row 0
            let wrote = write_row(buf, columns, cells, row + 1, start + k as usize, scratch)
                .map_err(|(c, reason)| error(c, k, reason))?;
            if wrote {
                sheet.last_row = row;
            }
            if buf.len() >= CHUNK {
                let full = std::mem::replace(buf, self.deflaters.buffer());
                if let Some(spool) = &mut sheet.spool {
                    self.deflaters.submit(spool, full)?;
                }
            }
        }
        sheet.rows = rows_in_sheet + count;
        Ok(())
    }

    /// Completes the current sheet: its last chunk deflated and every chunk spooled.
    ///
    /// # Errors
    ///
    /// As [`Deflaters::submit`].
    pub(super) fn close_sheet(&mut self) -> Result<()> {
        let (Some((_, buf)), Some(sheet)) = (self.current.take(), self.sheets.last_mut()) else {
            return Ok(());
        };
        if let Some(spool) = &mut sheet.spool {
            if !buf.is_empty() {
                self.deflaters.submit(spool, buf)?;
            }
            self.deflaters.drain(spool)?;
        }
        Ok(())
    }

    /// Writes the workbook to `writer`; returns the bytes written.
    ///
    /// # Errors
    ///
    /// As [`write_workbook`].
    pub(super) fn finish<W: Write>(&mut self, writer: W) -> Result<u64> {
        self.close_sheet()?;
        let look = Look {
            header_format: &self.header_format,
            freeze_header: self.freeze_header,
            autofilter: self.autofilter,
            tempdir: self.tempdir.as_deref(),
            created: self.created,
        };
        let (_, bytes) = write_workbook(writer, &mut self.sheets, &look)?;
        // The spool files are closed (and so removed) now, not when the sink is dropped.
        self.sheets.clear();
        Ok(bytes)
    }
}
