//! A JPEG's segments, walked from its start-of-image to its end-of-image
//! marker, keeping only what shows the image (see the crate's doc).
//!
//! The walk is by hand because the entropy-coded data after a scan header
//! must be followed too: a progressive JPEG has tables and scans between
//! scans, an APPn may sit there, and a phone appends whole images (MPF)
//! after the end-of-image marker, each with its own EXIF. Every step moves
//! forward by at least two bytes and every length is checked against the
//! end, so the walk is linear and cannot read past the input.

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP0: u8 = 0xE0;
const APP2: u8 = 0xE2;
const APP14: u8 = 0xEE;
const COM: u8 = 0xFE;

/// The JPEG in `bytes` with only the segments that show the image, ending
/// at its end-of-image marker; or why it is damaged.
pub fn strip(bytes: &[u8]) -> Result<Vec<u8>, &'static str> {
    if !bytes.starts_with(&[0xFF, SOI]) {
        return Err("it does not start with a start-of-image marker");
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, SOI]);
    let (mut at, mut frame, mut scan) = (2, false, false);
    loop {
        let marker = next_marker(bytes, &mut at)?;
        match marker {
            EOI if scan => {
                out.extend_from_slice(&[0xFF, EOI]);
                return Ok(out);
            }
            EOI => return Err("it ends before its first scan"),
            SOI => return Err("it has a second start-of-image marker"),
            // Restart markers and TEM stand alone; outside a scan's data
            // they carry nothing, so they are dropped.
            0xD0..=0xD7 | 0x01 => continue,
            _ => {}
        }
        let segment = segment(bytes, at)?;
        at += segment.len();
        if is_frame(marker) {
            frame = true;
        }
        if marker == SOS && !frame {
            return Err("it has a scan before its frame header");
        }
        if keep(marker, &segment[2..]) {
            out.extend_from_slice(&[0xFF, marker]);
            out.extend_from_slice(segment);
        }
        if marker == SOS {
            scan = true;
            let end = entropy_end(bytes, at)?;
            out.extend_from_slice(&bytes[at..end]);
            at = end;
        }
    }
}

/// The marker at `at` (after any 0xFF fill bytes), moving past it.
fn next_marker(bytes: &[u8], at: &mut usize) -> Result<u8, &'static str> {
    if bytes.get(*at) != Some(&0xFF) {
        return Err("a segment does not start with a marker");
    }
    while bytes.get(*at) == Some(&0xFF) {
        *at += 1;
    }
    let marker = *bytes.get(*at).ok_or("it ends before its end-of-image marker")?;
    *at += 1;
    Ok(marker)
}

/// The segment at `at`: its two length bytes and the payload they count.
fn segment(bytes: &[u8], at: usize) -> Result<&[u8], &'static str> {
    let length = match bytes.get(at..at + 2) {
        Some(&[high, low]) => usize::from(u16::from_be_bytes([high, low])),
        _ => return Err("it ends inside a segment's length"),
    };
    if length < 2 {
        return Err("a segment's length is shorter than the length itself");
    }
    bytes.get(at..at + length).ok_or("it ends inside a segment")
}

/// Where a scan's entropy-coded data ends: at the first 0xFF that is not a
/// stuffed zero, a restart marker or fill before a marker.
fn entropy_end(bytes: &[u8], mut at: usize) -> Result<usize, &'static str> {
    while at < bytes.len() {
        if bytes[at] == 0xFF {
            match bytes.get(at + 1) {
                Some(0x00 | 0xD0..=0xD7) => at += 2,
                Some(_) => return Ok(at),
                None => break,
            }
        } else {
            at += 1;
        }
    }
    Err("it ends inside a scan")
}

/// A start-of-frame marker (SOF0 to SOF15 but DHT, JPG and DAC).
fn is_frame(marker: u8) -> bool {
    (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// Whether a segment is needed to show the image.
fn keep(marker: u8, payload: &[u8]) -> bool {
    match marker {
        APP0 => payload.starts_with(b"JFIF\0"),
        APP2 => payload.starts_with(b"ICC_PROFILE\0"),
        APP14 => payload.starts_with(b"Adobe"),
        0xE1..=0xEF | COM => false,
        // Frames, tables (DHT, DQT, DAC), DRI, DNL, DHP, EXP and scans.
        0xC0..=0xDF => true,
        // JPGn extensions and reserved markers: nothing a photo needs.
        _ => false,
    }
}
