//! How format 3 stores an event: its JSON envelope, compressed alone with
//! a zstd dictionary kept in the database.
//!
//! Format 2 let sled compress its pages, which halved the disk but made
//! every page sled reads, and every page its recovery replays at open,
//! create a fresh zstd context: appends ran at a quarter of format 1's
//! rate, reads at 40% and a reopen after 100 k appends took 3.7 s instead
//! of 0.07 s (BENCHMARKS.md). Format 3 leaves sled's pages plain and
//! compresses each event's JSON on the appending caller's thread, with
//! contexts that are kept and reused. One event is too small for zstd to
//! find repeats in, so a dictionary trained on events of every kind
//! supplies them: 564 B of JSON become about 150 B.
//!
//! The dictionary is written into the database when a directory is
//! created and read back from there at every open, so a directory never
//! depends on the dictionary this binary carries ([`DICTIONARY`], made by
//! `cargo run -p gridloop-store-sled --example train-dictionary`).
//!
//! A stored value is `length (u32 LE) · crc32 of the frame (u32 LE) ·
//! zstd frame`. The length bounds what decompression may allocate; the
//! checksum makes any changed byte of the value an error that names the
//! event's position, before the event's own hash is even checked (a
//! changed byte inside a zstd frame's header can otherwise decode to the
//! same JSON).

use std::sync::Mutex;

use zstd::zstd_safe::{self, CCtx, CDict, DCtx, DDict};

/// The dictionary new directories compress their events with.
pub const DICTIONARY: &[u8] = include_bytes!("events.zdict");
/// The key the database keeps its events' dictionary under (outside the
/// log's one-byte prefixes `e`, `s`, `h`, `c`).
pub const DICTIONARY_KEY: &[u8] = b"dictionary";
/// The dictionary new directories compress the projections' snapshots and
/// cold rows with (trained by `examples/train-dictionary --cold` on the
/// rows of a scale bench's year): they are JSON of a few shapes, and a
/// dictionary makes them about a seventh of their size.
pub const COLD_DICTIONARY: &[u8] = include_bytes!("cold.zdict");
/// The key the database keeps the cold rows' dictionary under (like
/// [`DICTIONARY_KEY`], outside the log's one-byte prefixes).
pub const COLD_DICTIONARY_KEY: &[u8] = b"dictionary-cold";
/// The largest snapshot or cold row a value may hold: a board snapshot
/// of a hundred thousand open tickets is some 80 MB.
pub const COLD_BYTES_MAX: usize = 1 << 30;
/// The zstd level: 3 costs the caller's thread little and compresses a
/// dictionary-primed event within a few bytes of level 9.
const LEVEL: i32 = 3;
/// The longest event JSON a stored value may claim to hold: bounds the
/// allocation a corrupt length could ask for.
pub const EVENT_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Contexts kept for reuse; more callers at once make their own.
const CONTEXTS_KEPT_MAX: usize = 16;
/// The bytes before the frame: length and checksum.
const HEADER_BYTES: usize = 8;

/// Compresses and decompresses values with one dictionary.
pub struct Codec {
    /// The longest value it encodes or decodes.
    bytes_max: usize,
    compress: CDict<'static>,
    decompress: DDict<'static>,
    compressors: Mutex<Vec<CCtx<'static>>>,
    decompressors: Mutex<Vec<DCtx<'static>>>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Codec")
    }
}

impl Codec {
    /// A codec for events, with `dictionary` (the database's own).
    pub fn new(dictionary: &[u8]) -> Self {
        Self::bounded(dictionary, EVENT_BYTES_MAX)
    }

    /// A codec for values of at most `bytes_max` bytes.
    pub fn bounded(dictionary: &[u8], bytes_max: usize) -> Self {
        assert!(bytes_max <= u32::MAX as usize, "the length must fit the header");
        Self {
            bytes_max,
            compress: CDict::create(dictionary, LEVEL),
            decompress: DDict::create(dictionary),
            compressors: Mutex::new(Vec::new()),
            decompressors: Mutex::new(Vec::new()),
        }
    }

    /// The stored value for `json`.
    pub fn encode(&self, json: &[u8]) -> Result<Vec<u8>, String> {
        if json.len() > self.bytes_max {
            return Err(format!("a value of {} bytes is past the {}-byte bound", json.len(), self.bytes_max));
        }
        let mut context = self.compressors.lock().map_err(|_| "codec lock")?.pop().unwrap_or_else(CCtx::create);
        let mut frame = Vec::with_capacity(zstd_safe::compress_bound(json.len()));
        let written = context.compress_using_cdict(&mut frame, json, &self.compress);
        self.keep(&self.compressors, context);
        written.map_err(|code| format!("zstd: {}", zstd_safe::get_error_name(code)))?;
        let mut value = Vec::with_capacity(HEADER_BYTES + frame.len());
        value.extend_from_slice(&(json.len() as u32).to_le_bytes());
        value.extend_from_slice(&crc32fast::hash(&frame).to_le_bytes());
        value.extend_from_slice(&frame);
        Ok(value)
    }

    /// The JSON a stored value holds; an error says what is wrong with it.
    pub fn decode(&self, value: &[u8]) -> Result<Vec<u8>, String> {
        if value.len() < HEADER_BYTES {
            return Err(format!("a stored value of {} bytes is shorter than its header", value.len()));
        }
        let length = u32::from_le_bytes(value[0..4].try_into().expect("4 bytes")) as usize;
        let checksum = u32::from_le_bytes(value[4..8].try_into().expect("4 bytes"));
        let frame = &value[HEADER_BYTES..];
        if crc32fast::hash(frame) != checksum {
            return Err("its bytes do not match their checksum".into());
        }
        if length > self.bytes_max {
            return Err(format!("it claims {length} bytes, past the {}-byte bound", self.bytes_max));
        }
        let mut context = self.decompressors.lock().map_err(|_| "codec lock")?.pop().unwrap_or_else(DCtx::create);
        let mut json = Vec::with_capacity(length);
        let read = context.decompress_using_ddict(&mut json, frame, &self.decompress);
        self.keep(&self.decompressors, context);
        let read = read.map_err(|code| format!("zstd: {}", zstd_safe::get_error_name(code)))?;
        if read != length {
            return Err(format!("it holds {read} bytes where its header says {length}"));
        }
        Ok(json)
    }

    /// Puts a context back for the next call, unless enough are kept.
    fn keep<T>(&self, pool: &Mutex<Vec<T>>, context: T) {
        if let Ok(mut pool) = pool.lock() {
            if pool.len() < CONTEXTS_KEPT_MAX {
                pool.push(context);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_round_trips_and_any_changed_byte_is_refused() {
        let codec = Codec::new(DICTIONARY);
        let json = br#"{"stream":"ticket-T-1","version":1,"position":0,"type":"TicketSubmitted"}"#;
        let value = codec.encode(json).expect("encodes");
        assert!(value.len() < json.len(), "{} bytes for {}", value.len(), json.len());
        assert_eq!(codec.decode(&value).expect("decodes"), json);
        for at in 0..value.len() {
            let mut changed = value.clone();
            changed[at] ^= 0x5a;
            assert!(codec.decode(&changed).is_err(), "byte {at} changed, yet it decodes");
        }
        assert!(codec.decode(&value[..5]).is_err(), "a short value is refused");
    }
}
