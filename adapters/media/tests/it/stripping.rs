//! Location and camera metadata are removed; the image is otherwise kept
//! byte for byte.

use gridloop_media::{Kind, check};

use crate::fixtures::*;

#[test]
fn a_jpeg_with_gps_exif_comes_back_without_it_and_otherwise_unchanged() {
    assert!(contains(GPS_JPEG, b"Exif\0\0") && contains(GPS_JPEG, b"GridloopCam"), "the fixture carries EXIF");
    let (_, at, length) = *jpeg_segments(GPS_JPEG).iter().find(|(marker, ..)| *marker == 0xE1).unwrap();

    let photo = check(GPS_JPEG).unwrap();

    assert_eq!((photo.kind, photo.width, photo.height), (Kind::Jpeg, 24, 16));
    assert_eq!(photo.kind.content_type(), "image/jpeg");
    assert!(!contains(&photo.bytes, b"Exif") && !contains(&photo.bytes, b"GridloopCam"));
    let mut expected = GPS_JPEG[..at].to_vec();
    expected.extend_from_slice(&GPS_JPEG[at + length..]);
    assert_eq!(photo.bytes, expected, "only the APP1 segment is gone");
    let markers: Vec<u8> = jpeg_segments(&photo.bytes).iter().map(|(marker, ..)| *marker).collect();
    assert_eq!(markers.first(), Some(&0xE0), "JFIF is kept");
}

/// Inserts segments after the SOI marker.
fn with_segments(jpeg: &[u8], segments: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    for (marker, payload) in segments {
        out.extend_from_slice(&[0xFF, *marker]);
        out.extend_from_slice(&(payload.len() as u16 + 2).to_be_bytes());
        out.extend_from_slice(payload);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn xmp_iptc_comments_and_a_trailing_second_image_are_dropped_and_colour_segments_kept() {
    let icc: &[u8] = b"ICC_PROFILE\0\x01\x01profile";
    let adobe: &[u8] = b"Adobe\0\x64\0\0\0\0\x01";
    let mut jpeg = with_segments(
        GPS_JPEG,
        &[
            (0xE1, b"http://ns.adobe.com/xap/1.0/\0<GPSLatitude>"),
            (0xED, b"Photoshop 3.0\08BIM city"),
            (0xFE, b"taken at home"),
            (0xE2, b"MPF\0MM\0*"),
            (0xE2, icc),
            (0xEE, adobe),
        ],
    );
    // A phone's MPF second image follows the first one's end-of-image marker.
    jpeg.extend_from_slice(GPS_JPEG);

    let photo = check(&jpeg).unwrap();

    for gone in [&b"GPSLatitude"[..], b"8BIM", b"taken at home", b"MPF\0", b"GridloopCam"] {
        assert!(!contains(&photo.bytes, gone), "{:?} is gone", String::from_utf8_lossy(gone));
    }
    assert!(contains(&photo.bytes, icc) && contains(&photo.bytes, adobe));
    assert!(photo.bytes.ends_with(&[0xFF, 0xD9]));
    assert_eq!(photo.bytes.len(), check(GPS_JPEG).unwrap().bytes.len() + 2 * 4 + icc.len() + adobe.len());
}

#[test]
fn png_text_and_exif_chunks_are_removed() {
    let before = png_chunks(GPS_PNG);
    for kind in [b"eXIf", b"tEXt", b"iTXt"] {
        assert!(before.contains(kind), "the fixture has {:?}", String::from_utf8_lossy(kind));
    }
    let mut png = GPS_PNG.to_vec();
    let iend = png.len() - 12;
    png.splice(iend..iend, png_chunk(b"zTXt", b"Comment\0\0x").into_iter().chain(png_chunk(b"tIME", &[7; 7])));

    let photo = check(&png).unwrap();

    assert_eq!((photo.kind, photo.width, photo.height), (Kind::Png, 24, 16));
    let after = png_chunks(&photo.bytes);
    assert_eq!(after.first(), Some(b"IHDR"));
    assert_eq!(after.last(), Some(b"IEND"));
    for kind in [b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"tIME"] {
        assert!(!after.contains(kind));
    }
    assert!(!contains(&photo.bytes, b"22.275N") && !contains(&photo.bytes, b"GridloopCam"));
}

#[test]
fn webp_exif_and_xmp_chunks_are_removed_with_the_flags_and_riff_size_fixed() {
    assert_eq!(webp_chunks(GPS_WEBP), [*b"VP8X", *b"VP8 ", *b"EXIF", *b"XMP "]);
    assert_eq!(GPS_WEBP[20] & 0b1100, 0b1100, "the fixture's VP8X flags announce EXIF and XMP");

    let photo = check(GPS_WEBP).unwrap();

    assert_eq!((photo.kind, photo.width, photo.height), (Kind::Webp, 24, 16));
    assert_eq!(photo.kind.content_type(), "image/webp");
    let chunks = webp_chunks(&photo.bytes);
    assert!(!chunks.contains(b"EXIF") && !chunks.contains(b"XMP "));
    assert!(chunks.contains(b"VP8 "));
    assert_eq!(chunks[0], *b"VP8X");
    assert_eq!(photo.bytes[20] & 0b1100, 0, "no flag announces a dropped chunk");
    let riff_size = u32::from_le_bytes(photo.bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(riff_size + 8, photo.bytes.len());
    assert!(!contains(&photo.bytes, b"GridloopCam") && !contains(&photo.bytes, b"GPSLatitude"));
}

#[test]
fn a_checked_photo_checks_to_itself() {
    for fixture in [GPS_JPEG, GPS_PNG, GPS_WEBP] {
        let once = check(fixture).unwrap();
        assert_ne!(once.bytes, fixture, "metadata was removed");
        assert_eq!(check(&once.bytes).unwrap(), once);
    }
}
