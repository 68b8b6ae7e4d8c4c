//! What is refused, and why: the sentence names the fault.

use gridloop_engine::blob::BLOB_BYTES_MAX;
use gridloop_media::{Kind, MediaError, check};

use crate::fixtures::*;

#[test]
fn a_renamed_text_file_is_refused_whatever_it_is_called() {
    let text = b"Dear committee, the lift is broken again.\n(saved as lift.jpg)\n";
    assert_eq!(check(text), Err(MediaError::NotAnImage));
    assert_eq!(check(b""), Err(MediaError::NotAnImage));
    assert_eq!(check(b"RIFF\x04\0\0\0WAVE"), Err(MediaError::NotAnImage), "a RIFF that is not WebP");
    assert_eq!(check(b"GIF89a\x01\0\x01\0"), Err(MediaError::NotAnImage), "GIF is not taken");
    let error: gridloop_engine::Error = MediaError::NotAnImage.into();
    assert_eq!(error.code(), gridloop_engine::Error::invalid("photo", "").code());
    assert!(error.to_string().contains("JPEG, PNG or WebP"), "{error}");
}

#[test]
fn an_oversized_image_is_refused_before_it_is_read() {
    let mut big = GPS_JPEG.to_vec();
    big.resize(BLOB_BYTES_MAX + 1, 0);
    assert_eq!(check(&big), Err(MediaError::TooLarge { bytes: BLOB_BYTES_MAX + 1, max: BLOB_BYTES_MAX }));
    // At the bound the size is fine, and what follows the image is dropped.
    big.truncate(BLOB_BYTES_MAX);
    assert_eq!(check(&big).unwrap(), check(GPS_JPEG).unwrap());
}

/// The fixture JPEG with its frame header claiming `width`×`height`.
fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = GPS_JPEG.to_vec();
    let (_, at, _) = *jpeg_segments(&jpeg).iter().find(|(marker, ..)| *marker == 0xC0).unwrap();
    jpeg[at + 5..at + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[at + 7..at + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

/// A PNG of one IHDR claiming `width`×`height`, a tiny IDAT and IEND: a
/// decompression bomb's header.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

#[test]
fn a_huge_dimension_header_is_refused_without_decoding() {
    assert_eq!(check(&jpeg_claiming(65_000, 65_000)), Err(MediaError::TooManyPixels { width: 65_000, height: 65_000 }));
    assert_eq!(check(&jpeg_claiming(12_001, 1)), Err(MediaError::TooManyPixels { width: 12_001, height: 1 }));
    let photo = check(&jpeg_claiming(12_000, 3_333)).unwrap();
    assert_eq!((photo.width, photo.height), (12_000, 3_333), "40 Mpx and 12,000 a side are allowed");
    assert_eq!(check(&jpeg_claiming(7_000, 7_000)), Err(MediaError::TooManyPixels { width: 7_000, height: 7_000 }));

    let bomb = png_claiming(100_000, 100_000);
    assert!(bomb.len() < 100);
    assert_eq!(check(&bomb), Err(MediaError::TooManyPixels { width: 100_000, height: 100_000 }));
    assert_eq!(check(&png_claiming(3, 2)).map(|photo| (photo.width, photo.height)), Ok((3, 2)));

    // A WebP canvas (VP8X) of 16,384 × 16,384.
    let mut webp = GPS_WEBP.to_vec();
    webp[24..30].copy_from_slice(&[0xFF, 0x3F, 0, 0xFF, 0x3F, 0]);
    assert_eq!(check(&webp), Err(MediaError::TooManyPixels { width: 16_384, height: 16_384 }));
    let error = gridloop_engine::Error::from(check(&webp).unwrap_err());
    assert!(error.to_string().contains("16384×16384"), "{error}");
}

fn damaged(bytes: &[u8]) -> Option<Kind> {
    match check(bytes) {
        Err(MediaError::Damaged { kind, .. }) => Some(kind),
        other => panic!("expected a damaged image, got {other:?}"),
    }
}

#[test]
fn truncated_or_garbled_headers_are_refused() {
    assert_eq!(damaged(&GPS_JPEG[..GPS_JPEG.len() - 2]), Some(Kind::Jpeg), "no end-of-image marker");
    assert_eq!(damaged(&GPS_JPEG[..40]), Some(Kind::Jpeg));
    assert_eq!(damaged(&[0xFF, 0xD8, 0xFF]), Some(Kind::Jpeg));
    let no_frame: Vec<u8> = {
        let segments = jpeg_segments(GPS_JPEG);
        let (_, at, length) = *segments.iter().find(|(marker, ..)| *marker == 0xC0).unwrap();
        [&GPS_JPEG[..at], &GPS_JPEG[at + length..]].concat()
    };
    assert_eq!(damaged(&no_frame), Some(Kind::Jpeg), "a scan without a frame");

    let mut bad_crc = GPS_PNG.to_vec();
    bad_crc[20] ^= 1;
    assert_eq!(damaged(&bad_crc), Some(Kind::Png));
    assert_eq!(damaged(&GPS_PNG[..GPS_PNG.len() - 12]), Some(Kind::Png), "no IEND");
    assert_eq!(damaged(b"\x89PNG\r\n\x1a\n"), Some(Kind::Png));

    assert_eq!(damaged(&GPS_WEBP[..GPS_WEBP.len() - 1]), Some(Kind::Webp));
    let mut vp8x_only = b"RIFF\x12\0\0\0WEBPVP8X\x0a\0\0\0".to_vec();
    vp8x_only.extend_from_slice(&[0; 10]);
    assert_eq!(damaged(&vp8x_only), Some(Kind::Webp), "no image data");
}
