//! The committed photos (`fixtures/photos/`, made by Pillow's encoders with
//! `make.py`) and helpers to build or take apart images in tests.

/// 24×16 JPEG whose EXIF names a camera and a GPS position.
pub(crate) const GPS_JPEG: &[u8] = include_bytes!("../../../../fixtures/photos/gps.jpg");
/// 24×16 PNG with an `eXIf` chunk, a `tEXt` location and an `iTXt` XMP.
pub(crate) const GPS_PNG: &[u8] = include_bytes!("../../../../fixtures/photos/gps.png");
/// 24×16 WebP (VP8X) with `EXIF` and `XMP ` chunks.
pub(crate) const GPS_WEBP: &[u8] = include_bytes!("../../../../fixtures/photos/gps.webp");

/// Whether `needle` occurs in `hay`.
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|window| window == needle)
}

/// The JPEG's segments before its first scan: (marker, offset of 0xFF, total length).
pub(crate) fn jpeg_segments(jpeg: &[u8]) -> Vec<(u8, usize, usize)> {
    let mut at = 2;
    let mut out = Vec::new();
    while jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        out.push((marker, at, length + 2));
        if marker == 0xDA {
            break;
        }
        at += length + 2;
    }
    out
}

/// The PNG's chunk types, in order.
pub(crate) fn png_chunks(png: &[u8]) -> Vec<[u8; 4]> {
    let mut at = 8;
    let mut out = Vec::new();
    while at + 8 <= png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        out.push(png[at + 4..at + 8].try_into().unwrap());
        at += 12 + length;
    }
    out
}

/// One PNG chunk with its CRC (CRC-32 of type and data, bit by bit).
pub(crate) fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in kind.iter().chain(data) {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&(!crc).to_be_bytes());
    out
}

/// The WebP's top-level chunk ids, in order.
pub(crate) fn webp_chunks(webp: &[u8]) -> Vec<[u8; 4]> {
    let mut at = 12;
    let mut out = Vec::new();
    while at + 8 <= webp.len() {
        let length = u32::from_le_bytes(webp[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push(webp[at..at + 4].try_into().unwrap());
        at += 8 + length + length % 2;
    }
    out
}
