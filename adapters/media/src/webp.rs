//! A WebP's RIFF chunks, keeping only what shows the image (see the crate's
//! doc).
//!
//! `img-parts` reads the RIFF container (checking every length) and writes
//! it back with the RIFF size recomputed; the `VP8X` header's flags are
//! cleared here for the metadata that was dropped, since a reader trusts
//! them to look for chunks.

use img_parts::Bytes;
use img_parts::riff::{RiffChunk, RiffContent};
use img_parts::webp::{CHUNK_ALPH, CHUNK_ANIM, CHUNK_ANMF, CHUNK_ICCP, CHUNK_VP8, CHUNK_VP8L, CHUNK_VP8X, WebP};

/// The chunks a WebP keeps: the image, its alpha, animation and colours.
const KEPT: [[u8; 4]; 7] = [CHUNK_VP8X, CHUNK_VP8, CHUNK_VP8L, CHUNK_ALPH, CHUNK_ANIM, CHUNK_ANMF, CHUNK_ICCP];

/// `VP8X`'s flags for an EXIF and an XMP chunk (its first byte).
const EXIF_AND_XMP_FLAGS: u8 = 0b0000_1100;

/// The WebP in `bytes` with only the chunks that show the image; or why it
/// is damaged.
pub fn strip(bytes: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut webp = WebP::from_bytes(Bytes::copy_from_slice(bytes))
        .map_err(|_| "it is truncated or a chunk's length runs past its end")?;
    if !webp.chunks().iter().any(|chunk| matches!(chunk.id(), CHUNK_VP8 | CHUNK_VP8L | CHUNK_ANMF)) {
        return Err("it has no image data");
    }
    webp.chunks_mut().retain(|chunk| KEPT.contains(&chunk.id()));
    for chunk in webp.chunks_mut() {
        if chunk.id() != CHUNK_VP8X {
            continue;
        }
        let RiffContent::Data(data) = chunk.content() else {
            return Err("its VP8X header is not a data chunk");
        };
        if data.len() != 10 {
            return Err("its VP8X header is not 10 bytes long");
        }
        let mut header = data.to_vec();
        header[0] &= !EXIF_AND_XMP_FLAGS;
        *chunk = RiffChunk::new(CHUNK_VP8X, RiffContent::Data(Bytes::from(header)));
    }
    Ok(webp.encoder().bytes().to_vec())
}
