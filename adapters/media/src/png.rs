//! A PNG's chunks, keeping only what shows the image (see the crate's doc).
//!
//! `img-parts` reads the chunks (checking every CRC and length) and writes
//! the kept ones back as they were, so their CRCs still hold.

use img_parts::Bytes;
use img_parts::png::Png;

/// The chunks a PNG keeps: the critical ones, colour and transparency,
/// density, and APNG's animation (frames are pixels, not metadata).
const KEPT: [&[u8; 4]; 14] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD", b"pHYs",
    b"acTL", b"fcTL",
];

/// APNG's frame data, kept with `acTL` and `fcTL`.
const FRAME_DATA: &[u8; 4] = b"fdAT";

/// The PNG in `bytes` with only the chunks that show the image, ending at
/// `IEND`; or why it is damaged.
pub fn strip(bytes: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut png = Png::from_bytes(Bytes::copy_from_slice(bytes)).map_err(|error| match error {
        img_parts::Error::BadCRC => "a chunk's CRC does not match its contents",
        _ => "it is truncated or a chunk's length runs past its end",
    })?;
    let chunks = png.chunks();
    if chunks.first().map(|chunk| chunk.kind()) != Some(*b"IHDR") {
        return Err("its first chunk is not IHDR");
    }
    if chunks.last().map(|chunk| chunk.kind()) != Some(*b"IEND") {
        return Err("it ends before its IEND chunk");
    }
    if !chunks.iter().any(|chunk| &chunk.kind() == b"IDAT") {
        return Err("it has no image data");
    }
    png.chunks_mut().retain(|chunk| {
        let kind = chunk.kind();
        KEPT.contains(&&kind) || &kind == FRAME_DATA
    });
    Ok(png.encoder().bytes().to_vec())
}
