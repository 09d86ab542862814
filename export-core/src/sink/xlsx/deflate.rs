//! Raw deflate in independent pieces that concatenate into one valid stream, as pigz does.
//!
//! Each piece is compressed on its own (so pieces can be compressed on several threads), yet the
//! concatenation of the pieces, in order, is a single deflate stream:
//!
//! - every piece but the last ends with a sync flush: its blocks end byte-aligned, none has
//!   BFINAL set, and an empty stored block closes it;
//! - the last piece finishes the stream (its last block has BFINAL set);
//! - each piece is primed with the previous [`WINDOW`] bytes of the whole uncompressed stream as
//!   a preset dictionary, so its matches may reach back across the boundary: the output is about
//!   as small as one continuous stream's. A piece primed with less (the first data chunk of a
//!   sheet, compressed before the sheet's prefix is known) is still valid, only a little larger.
//!
//! The CRC-32 of the whole is the pieces' CRCs combined in order ([`crc32fast::Hasher::combine`]).

use std::io;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Deflate's window: the most bytes a match can reach back.
pub(super) const WINDOW: usize = 32 * 1024;

/// The zlib level of every piece: zip's (and so rust_xlsxwriter's) default, so the file is no
/// larger than rust_xlsxwriter's own.
pub(super) const LEVEL: u32 = 6;

/// A reusable raw-deflate compressor for pieces.
pub(super) struct PieceDeflater {
    compress: Compress,
}

impl PieceDeflater {
    pub(super) fn new() -> PieceDeflater {
        PieceDeflater {
            compress: Compress::new(Compression::new(LEVEL), false),
        }
    }

    /// Appends to `out` the deflated `input`, primed with `dictionary` (the up to [`WINDOW`]
    /// bytes of the whole stream just before `input`). `last` finishes the stream; otherwise the
    /// piece ends with a sync flush so the next piece can follow it.
    ///
    /// # Errors
    ///
    /// An [`io::Error`] when the compressor fails (it does not on valid arguments).
    pub(super) fn deflate(
        &mut self,
        dictionary: &[u8],
        input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        let c = &mut self.compress;
        c.reset();
        let dictionary = &dictionary[dictionary.len().saturating_sub(WINDOW)..];
        if !dictionary.is_empty() {
            c.set_dictionary(dictionary).map_err(io::Error::other)?;
        }
        let flush = if last {
            FlushCompress::Finish
        } else {
            FlushCompress::Sync
        };
        let start_in = c.total_in();
        out.reserve(input.len() / 4 + 64);
        loop {
            let consumed = (c.total_in() - start_in) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(4096));
            }
            let status = c
                .compress_vec(&input[consumed..], out, flush)
                .map_err(io::Error::other)?;
            let consumed = (c.total_in() - start_in) as usize;
            let room_left = out.capacity() > out.len();
            match status {
                Status::StreamEnd => return Ok(()),
                // A flush is complete when all input is in and the compressor stopped with room
                // to spare (zlib's rule: it fills the buffer when it has more to say).
                Status::Ok | Status::BufError if !last && consumed == input.len() && room_left => {
                    return Ok(());
                }
                Status::Ok | Status::BufError => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use crc32fast::Hasher as Crc;
    use flate2::read::DeflateDecoder;

    use super::*;

    /// Sheet-like XML with repeats near and far, so matches cross chunk boundaries.
    fn xml(rows: usize) -> Vec<u8> {
        let mut s = String::new();
        for r in 0..rows {
            s.push_str(&format!(
                "<row r=\"{r}\"><c r=\"A{r}\"><v>{}</v></c><c r=\"B{r}\" t=\"inlineStr\"><is><t>city {}</t></is></c></row>",
                r * 7919 % 100_003,
                r % 13
            ));
        }
        s.into_bytes()
    }

    /// Deflates `data` cut at `cuts` (offsets), each piece primed with the 32 KiB before it.
    fn stitched(data: &[u8], cuts: &[usize]) -> (Vec<u8>, Crc) {
        let mut d = PieceDeflater::new();
        let mut out = Vec::new();
        let mut crc = Crc::new();
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(data.len());
        for (k, w) in bounds.windows(2).enumerate() {
            let piece = &data[w[0]..w[1]];
            let dict = &data[w[0].saturating_sub(WINDOW)..w[0]];
            let last = k == bounds.len() - 2;
            let mut part = Vec::new();
            d.deflate(dict, piece, last, &mut part).unwrap();
            out.extend_from_slice(&part);
            let mut c = Crc::new();
            c.update(piece);
            crc.combine(&c);
        }
        (out, crc)
    }

    fn inflate(bytes: &[u8]) -> Vec<u8> {
        let mut back = Vec::new();
        DeflateDecoder::new(bytes).read_to_end(&mut back).unwrap();
        back
    }

    #[test]
    fn many_primed_chunks_make_one_stream_with_the_combined_crc() {
        let data = xml(40_000);
        let cuts: Vec<usize> = (1..)
            .map(|k| k * 100_000)
            .take_while(|&c| c < data.len())
            .collect();
        assert!(cuts.len() > 10);
        let (out, crc) = stitched(&data, &cuts);
        assert_eq!(inflate(&out), data);
        assert_eq!(crc.finalize(), crc32fast::hash(&data));
    }

    #[test]
    fn priming_keeps_the_stream_as_small_as_a_continuous_one() {
        let data = xml(40_000);
        let cuts: Vec<usize> = (1..)
            .map(|k| k << 20)
            .take_while(|&c| c < data.len())
            .collect();
        let (primed, _) = stitched(&data, &cuts);
        let mut one = Vec::new();
        PieceDeflater::new()
            .deflate(&[], &data, true, &mut one)
            .unwrap();
        // Each boundary costs at most a few bytes (the empty stored block, a new block header).
        assert!(
            primed.len() <= one.len() + 16 * (cuts.len() + 1),
            "{} vs {}",
            primed.len(),
            one.len()
        );

        // Without priming, every chunk starts with an empty window and the stream is larger.
        let mut unprimed = Vec::new();
        let mut d = PieceDeflater::new();
        let mut start = 0;
        for (k, end) in cuts.iter().chain([&data.len()]).enumerate() {
            d.deflate(&[], &data[start..*end], k == cuts.len(), &mut unprimed)
                .unwrap();
            start = *end;
        }
        assert_eq!(inflate(&unprimed), data);
        assert!(unprimed.len() > primed.len());
    }

    #[test]
    fn empty_chunks_tiny_chunks_and_window_sized_chunks_are_valid() {
        let data = xml(3_000);
        // An empty chunk first, two empty chunks in a row, a chunk of exactly the window, a
        // chunk of one byte, and an empty last chunk.
        let cuts = [
            0,
            10,
            10,
            10 + WINDOW,
            10 + WINDOW + 1,
            3 * WINDOW,
            data.len(),
        ];
        let (out, crc) = stitched(&data, &cuts);
        assert_eq!(inflate(&out), data);
        assert_eq!(crc.finalize(), crc32fast::hash(&data));
    }

    #[test]
    fn an_empty_stream_is_one_final_piece() {
        let (out, crc) = stitched(&[], &[]);
        assert!(inflate(&out).is_empty());
        assert_eq!(crc.finalize(), 0);
        // Empty pieces before the end are valid too.
        let (out, _) = stitched(&[], &[0, 0]);
        assert!(inflate(&out).is_empty());
    }

    #[test]
    fn incompressible_input_larger_than_the_output_buffer_is_complete() {
        // Pseudo-random bytes: the output outgrows every first guess of its size.
        let mut x = 0x1234_5678_u32;
        let data: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let (out, _) = stitched(&data, &[WINDOW, 100_000, 200_000]);
        assert_eq!(inflate(&out), data);
    }
}
