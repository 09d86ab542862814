//! A minimal zip writer for entries whose compressed bytes, CRC-32 and sizes are known before
//! they are written: each entry's local header carries them (no data descriptor, no seeking), so
//! the output may be any [`Write`]. Zip64 fields are written when a size, an offset or the entry
//! count outgrows the classic format (or always, with [`ZipOut::force_zip64`], for tests).

use std::io::{self, Write};

/// Deflate, as zip names it.
pub(super) const DEFLATED: u16 = 8;
/// No compression.
pub(super) const STORED: u16 = 0;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const EOCD64_LOCATOR_SIG: u32 = 0x0706_4b50;
/// A 32-bit field that says "see the zip64 extra field".
const MAX32: u64 = 0xFFFF_FFFF;
const MAX16: u64 = 0xFFFF;
/// Version 2.0 (deflate) and 4.5 (zip64) of the format.
const VERSION_DEFLATE: u16 = 20;
const VERSION_ZIP64: u16 = 45;
/// Made by: Unix, version 4.5, so external attributes are Unix modes.
const MADE_BY: u16 = (3 << 8) | VERSION_ZIP64;
/// A regular file, `rw-------` (rust_xlsxwriter's entries).
const EXTERNAL_ATTRIBUTES: u32 = 0o100_600 << 16;
/// MS-DOS date of 1980-01-01 (time 00:00), the zip epoch: rust_xlsxwriter's fixed date.
const DOS_DATE: u16 = (1 << 5) | 1;

struct Entry {
    name: String,
    method: u16,
    crc: u32,
    compressed: u64,
    size: u64,
    offset: u64,
}

/// Writes a zip archive entry by entry; [`ZipOut::finish`] writes the central directory.
pub(super) struct ZipOut<W: Write> {
    writer: W,
    /// Bytes written so far: the next entry's offset.
    offset: u64,
    entries: Vec<Entry>,
    /// Compressed bytes still expected for the open entry.
    pending: u64,
    force_zip64: bool,
}

impl<W: Write> ZipOut<W> {
    pub(super) fn new(writer: W) -> ZipOut<W> {
        ZipOut {
            writer,
            offset: 0,
            entries: Vec::new(),
            pending: 0,
            force_zip64: false,
        }
    }

    /// Writes zip64 fields for every entry and the directory, whatever their size.
    #[cfg(test)]
    pub(super) fn force_zip64(mut self) -> ZipOut<W> {
        self.force_zip64 = true;
        self
    }

    /// Writes the local header of an entry; its `compressed` bytes follow with
    /// [`ZipOut::data`].
    pub(super) fn begin(
        &mut self,
        name: &str,
        method: u16,
        crc: u32,
        compressed: u64,
        size: u64,
    ) -> io::Result<()> {
        if self.pending != 0 {
            return Err(io::Error::other("zip entry shorter than announced"));
        }
        let zip64 = self.force_zip64 || size >= MAX32 || compressed >= MAX32;
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        put32(&mut h, LOCAL_SIG);
        put16(
            &mut h,
            if zip64 {
                VERSION_ZIP64
            } else {
                VERSION_DEFLATE
            },
        );
        put16(&mut h, flags(name));
        put16(&mut h, method);
        put16(&mut h, 0); // time 00:00:00
        put16(&mut h, DOS_DATE);
        put32(&mut h, crc);
        put32(
            &mut h,
            if zip64 {
                MAX32 as u32
            } else {
                compressed as u32
            },
        );
        put32(&mut h, if zip64 { MAX32 as u32 } else { size as u32 });
        put16(&mut h, name.len() as u16);
        put16(&mut h, if zip64 { 20 } else { 0 });
        h.extend_from_slice(name.as_bytes());
        if zip64 {
            put16(&mut h, 0x0001);
            put16(&mut h, 16);
            put64(&mut h, size);
            put64(&mut h, compressed);
        }
        self.entries.push(Entry {
            name: name.to_string(),
            method,
            crc,
            compressed,
            size,
            offset: self.offset,
        });
        self.write(&h)?;
        self.pending = compressed;
        Ok(())
    }

    /// Writes compressed bytes of the open entry.
    pub(super) fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() as u64 > self.pending {
            return Err(io::Error::other("zip entry longer than announced"));
        }
        self.pending -= bytes.len() as u64;
        self.write(bytes)
    }

    /// Writes the central directory and returns the writer and the archive's length.
    pub(super) fn finish(mut self) -> io::Result<(W, u64)> {
        if self.pending != 0 {
            return Err(io::Error::other("zip entry shorter than announced"));
        }
        let cd_offset = self.offset;
        let mut cd = Vec::new();
        for e in &self.entries {
            let zip64 =
                self.force_zip64 || e.size >= MAX32 || e.compressed >= MAX32 || e.offset >= MAX32;
            put32(&mut cd, CENTRAL_SIG);
            put16(&mut cd, MADE_BY);
            put16(
                &mut cd,
                if zip64 {
                    VERSION_ZIP64
                } else {
                    VERSION_DEFLATE
                },
            );
            put16(&mut cd, flags(&e.name));
            put16(&mut cd, e.method);
            put16(&mut cd, 0);
            put16(&mut cd, DOS_DATE);
            put32(&mut cd, e.crc);
            let (compressed, size, offset) = if zip64 {
                (MAX32, MAX32, MAX32)
            } else {
                (e.compressed, e.size, e.offset)
            };
            put32(&mut cd, compressed as u32);
            put32(&mut cd, size as u32);
            put16(&mut cd, e.name.len() as u16);
            put16(&mut cd, if zip64 { 28 } else { 0 });
            put16(&mut cd, 0); // comment
            put16(&mut cd, 0); // disk
            put16(&mut cd, 0); // internal attributes
            put32(&mut cd, EXTERNAL_ATTRIBUTES);
            put32(&mut cd, offset as u32);
            cd.extend_from_slice(e.name.as_bytes());
            if zip64 {
                // In the order the format lists them: original size, compressed size, offset.
                put16(&mut cd, 0x0001);
                put16(&mut cd, 24);
                put64(&mut cd, e.size);
                put64(&mut cd, e.compressed);
                put64(&mut cd, e.offset);
            }
        }
        let count = self.entries.len() as u64;
        let cd_size = cd.len() as u64;
        let zip64 = self.force_zip64 || count >= MAX16 || cd_size >= MAX32 || cd_offset >= MAX32;
        if zip64 {
            let eocd64_offset = cd_offset + cd_size;
            put32(&mut cd, EOCD64_SIG);
            put64(&mut cd, 44); // the record's size after this field
            put16(&mut cd, MADE_BY);
            put16(&mut cd, VERSION_ZIP64);
            put32(&mut cd, 0); // this disk
            put32(&mut cd, 0); // the directory's disk
            put64(&mut cd, count);
            put64(&mut cd, count);
            put64(&mut cd, cd_size);
            put64(&mut cd, cd_offset);
            put32(&mut cd, EOCD64_LOCATOR_SIG);
            put32(&mut cd, 0);
            put64(&mut cd, eocd64_offset);
            put32(&mut cd, 1); // disks
        }
        put32(&mut cd, EOCD_SIG);
        put16(&mut cd, 0);
        put16(&mut cd, 0);
        let count16 = if zip64 { MAX16 } else { count } as u16;
        put16(&mut cd, count16);
        put16(&mut cd, count16);
        put32(&mut cd, if zip64 { MAX32 } else { cd_size } as u32);
        put32(&mut cd, if zip64 { MAX32 } else { cd_offset } as u32);
        put16(&mut cd, 0); // comment
        self.write(&cd)?;
        self.writer.flush()?;
        Ok((self.writer, self.offset))
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }
}

/// General-purpose flags: bit 11 when the name is UTF-8 beyond ASCII.
fn flags(name: &str) -> u16 {
    if name.is_ascii() { 0 } else { 1 << 11 }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::*;
    use crate::sink::xlsx::deflate::PieceDeflater;

    fn archive(force_zip64: bool) -> Vec<u8> {
        let mut zip = ZipOut::new(Vec::new());
        if force_zip64 {
            zip = zip.force_zip64();
        }
        for (name, text) in [
            ("a.xml", "<a>hello</a>".repeat(50)),
            ("dir/é.txt", "x".into()),
        ] {
            let mut packed = Vec::new();
            PieceDeflater::new()
                .deflate(&[], text.as_bytes(), true, &mut packed)
                .unwrap();
            zip.begin(
                name,
                DEFLATED,
                crc32fast::hash(text.as_bytes()),
                packed.len() as u64,
                text.len() as u64,
            )
            .unwrap();
            // In two writes, as a sheet's pieces are.
            let (head, tail) = packed.split_at(packed.len() / 2);
            zip.data(head).unwrap();
            zip.data(tail).unwrap();
        }
        zip.begin("raw.bin", STORED, 0, 0, 0).unwrap();
        let (bytes, len) = zip.finish().unwrap();
        assert_eq!(len, bytes.len() as u64);
        bytes
    }

    fn read_back(bytes: Vec<u8>) -> Vec<(String, String)> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..zip.len())
            .map(|i| {
                let mut f = zip.by_index(i).unwrap();
                let mut text = String::new();
                f.read_to_string(&mut text).unwrap(); // checks the CRC at the end
                (f.name().unwrap().to_string(), text)
            })
            .collect()
    }

    #[test]
    fn entries_read_back_with_and_without_zip64() {
        for force in [false, true] {
            let bytes = archive(force);
            let has_zip64_eocd = bytes.windows(4).any(|w| w == EOCD64_SIG.to_le_bytes());
            assert_eq!(has_zip64_eocd, force);
            let entries = read_back(bytes);
            assert_eq!(entries.len(), 3);
            assert_eq!(entries[0], ("a.xml".into(), "<a>hello</a>".repeat(50)));
            assert_eq!(entries[1], ("dir/é.txt".into(), "x".into()));
            assert_eq!(entries[2], ("raw.bin".into(), String::new()));
        }
    }

    #[test]
    fn a_wrong_crc_is_caught_by_a_reader() {
        let mut zip = ZipOut::new(Vec::new());
        zip.begin("s.txt", STORED, 0xDEAD_BEEF, 3, 3).unwrap();
        zip.data(b"abc").unwrap();
        let (bytes, _) = zip.finish().unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut text = String::new();
        assert!(
            archive
                .by_index(0)
                .unwrap()
                .read_to_string(&mut text)
                .is_err()
        );
    }

    #[test]
    fn data_longer_or_shorter_than_announced_is_an_error() {
        let mut zip = ZipOut::new(Vec::new());
        zip.begin("s.txt", STORED, 0, 2, 2).unwrap();
        assert!(zip.data(b"abc").is_err());
        zip.data(b"a").unwrap();
        assert!(zip.finish().is_err());
    }
}
