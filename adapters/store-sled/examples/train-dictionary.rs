//! Trains the zstd dictionary format-3 directories are created with
//! (`src/events.zdict`, see the `codec` module).
//!
//! ```text
//! gridloop demo --days 7 --orders-per-day 1000 --data D
//! gridloop export --data D > log.ndjson
//! cargo run --release -p gridloop-store-sled --example train-dictionary -- log.ndjson src/events.zdict
//! ```
//!
//! Each sample is an event as the store keeps it: the JSON envelope with
//! position 0 (the position is the key, not part of the value). A demo
//! week holds every kind of event the loop writes, world and people
//! included, so the dictionary knows their field names and shapes.

use gridloop_engine::envelope::RecordedEvent;

/// 16 KiB: larger dictionaries compressed the demo's events no better.
const DICTIONARY_BYTES: usize = 16 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, log, out] = &args[..] else { panic!("usage: train-dictionary LOG.ndjson OUT") };
    let text = std::fs::read_to_string(log).expect("the export reads");
    let samples: Vec<Vec<u8>> = text
        .lines()
        .map(|line| {
            let event: RecordedEvent = serde_json::from_str(line).expect("an envelope per line");
            serde_json::to_vec(&RecordedEvent { position: 0, ..event }).expect("encodes")
        })
        .collect();
    let dictionary = zstd::dict::from_samples(&samples, DICTIONARY_BYTES).expect("trains");
    std::fs::write(out, &dictionary).expect("writes");
    let codec = gridloop_store_sled::codec::Codec::new(&dictionary);
    let json: usize = samples.iter().map(Vec::len).sum();
    let stored: usize = samples.iter().map(|s| codec.encode(s).expect("encodes").len()).sum();
    println!(
        "{} samples: {:.0} B of JSON, {:.0} B stored per event; {} B of dictionary in {out}",
        samples.len(),
        json as f64 / samples.len() as f64,
        stored as f64 / samples.len() as f64,
        dictionary.len()
    );
}
