//! gridloop-media: what may be stored as an evidence photo.
//!
//! [`check`] takes the bytes a caller uploaded and either refuses them with
//! a [`MediaError`] or returns a [`Photo`]: the same image with its location
//! and camera metadata removed, its [`Kind`] and its dimensions. Nothing
//! here decodes pixels, so the work is linear in the input and bounded by
//! [`BLOB_BYTES_MAX`].
//!
//! What is refused, in this order:
//!
//! 1. more than [`BLOB_BYTES_MAX`] bytes;
//! 2. anything that is not JPEG, PNG or WebP *by its first bytes* (a file's
//!    name and its Content-Type are what a caller says, not what it is);
//! 3. a container that is truncated or garbled (a JPEG without its
//!    end-of-image marker, a PNG chunk whose CRC fails, a RIFF length past
//!    the end);
//! 4. dimensions past [`SIDE_MAX`] a side or [`PIXELS_MAX`] in all, read
//!    from the header: a decompression bomb is a few kilobytes that claim
//!    gigapixels, and whoever displays it would inflate them.
//!
//! What is kept, per format, is a list of what an image needs to be shown
//! as it was taken; everything else is dropped (a list of what to drop would
//! let a new or private metadata block through):
//!
//! - JPEG ([`jpeg`]): frame, scan, table and restart segments; APP0 `JFIF`
//!   (pixel density), APP2 `ICC_PROFILE` (the colours) and APP14 `Adobe`
//!   (whether a four-channel JPEG is CMYK or YCCK: without it the colours
//!   come out wrong). APP1 (EXIF, XMP), APP13 (IPTC), the other APPn, COM
//!   and everything after the end-of-image marker (a phone's MPF second
//!   image, with its own EXIF) are dropped.
//! - PNG ([`png`]): the critical chunks, the colour chunks (`iCCP`, `sRGB`,
//!   `gAMA`, `cHRM`, `sBIT`), `tRNS`, `bKGD`, `pHYs` and APNG's animation
//!   chunks; `eXIf`, `tEXt`, `iTXt`, `zTXt`, `tIME` and unknown chunks are
//!   dropped.
//! - WebP ([`webp`]): `VP8X`, `VP8 `, `VP8L`, `ALPH`, `ANIM`, `ANMF` and
//!   `ICCP`; `EXIF`, `XMP ` and unknown chunks are dropped, `VP8X`'s EXIF
//!   and XMP flags cleared, and the RIFF size written anew.
//!
//! EXIF's orientation goes with the rest of EXIF, so a photo a phone took
//! sideways and marked "rotate" shows sideways. Keeping it would mean
//! writing a new EXIF block; a handler can still read a sideways photo.
//!
//! A checked photo checks to itself: `check(&check(x)?.bytes)` is the same
//! photo, so a photo moved between stores or imported again keeps its hash.

#![warn(missing_docs, unreachable_pub)]

pub mod jpeg;
pub mod png;
pub mod webp;

use gridloop_engine::blob::BLOB_BYTES_MAX;
use thiserror::Error;

/// The most pixels a photo may have on a side.
pub const SIDE_MAX: u32 = 12_000;
/// The most pixels a photo may have in all (40 megapixels, past any phone's).
pub const PIXELS_MAX: u64 = 40_000_000;

/// Why bytes are not a photo gridloop stores.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MediaError {
    /// More bytes than a photo may have.
    #[error("a photo must be at most {max} bytes; this one has {bytes}")]
    TooLarge {
        /// The size given.
        bytes: usize,
        /// The bound, [`BLOB_BYTES_MAX`].
        max: usize,
    },
    /// The bytes do not start as a JPEG, a PNG or a WebP does.
    #[error("a photo must be a JPEG, PNG or WebP image, and these bytes are none of them")]
    NotAnImage,
    /// The container is truncated or garbled.
    #[error("the {kind} image is damaged: {reason}")]
    Damaged {
        /// The format the first bytes announced.
        kind: Kind,
        /// What is wrong, as a sentence fragment.
        reason: &'static str,
    },
    /// The header claims more pixels than a photo may have.
    #[error("a photo may be at most {side} pixels a side and {pixels} pixels in all; this one is {width}×{height}", side = SIDE_MAX, pixels = PIXELS_MAX)]
    TooManyPixels {
        /// The width the header claims.
        width: u64,
        /// The height the header claims.
        height: u64,
    },
}

impl From<MediaError> for gridloop_engine::Error {
    /// Every media refusal is a bad `photo` field: the caller corrects the
    /// upload (HTTP 400), and nothing was stored.
    fn from(error: MediaError) -> Self {
        gridloop_engine::Error::invalid("photo", error.to_string())
    }
}

/// The formats gridloop stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// JPEG (JFIF or EXIF), baseline or progressive.
    Jpeg,
    /// PNG, still or animated.
    Png,
    /// WebP, lossy, lossless or extended.
    Webp,
}

impl Kind {
    /// The media type to serve it with.
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Webp => "image/webp",
        }
    }

    /// The format announced by the first bytes, if it is one of ours.
    pub fn sniff(bytes: &[u8]) -> Option<Kind> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Kind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Kind::Png)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(Kind::Webp)
        } else {
            None
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Jpeg => "JPEG",
            Kind::Png => "PNG",
            Kind::Webp => "WebP",
        })
    }
}

/// A photo fit to store: its bytes without metadata, its format and size.
#[derive(Clone, PartialEq, Eq)]
pub struct Photo {
    /// The image, stripped of location and camera metadata.
    pub bytes: Vec<u8>,
    /// Its format.
    pub kind: Kind,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

impl std::fmt::Debug for Photo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Photo({}, {}×{}, {} bytes)", self.kind, self.width, self.height, self.bytes.len())
    }
}

/// Checks `bytes` as a photo and returns it stripped of its metadata, or
/// says why it is refused (see the crate's doc for the order of checks).
pub fn check(bytes: &[u8]) -> Result<Photo, MediaError> {
    if bytes.len() > BLOB_BYTES_MAX {
        return Err(MediaError::TooLarge { bytes: bytes.len(), max: BLOB_BYTES_MAX });
    }
    let kind = Kind::sniff(bytes).ok_or(MediaError::NotAnImage)?;
    let damaged = |reason| MediaError::Damaged { kind, reason };
    let stripped = match kind {
        Kind::Jpeg => jpeg::strip(bytes).map_err(damaged)?,
        Kind::Png => png::strip(bytes).map_err(damaged)?,
        Kind::Webp => webp::strip(bytes).map_err(damaged)?,
    };
    let size = imagesize::blob_size(&stripped).map_err(|_| damaged("its header gives no dimensions"))?;
    let (width, height) = (size.width as u64, size.height as u64);
    if width == 0 || height == 0 {
        return Err(damaged("its header gives no dimensions"));
    }
    if width > u64::from(SIDE_MAX) || height > u64::from(SIDE_MAX) || width * height > PIXELS_MAX {
        return Err(MediaError::TooManyPixels { width, height });
    }
    // Both are at most SIDE_MAX here, so they fit in a u32.
    Ok(Photo { bytes: stripped, kind, width: width as u32, height: height as u32 })
}
