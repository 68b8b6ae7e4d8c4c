//! Trains the zstd dictionaries format-3 directories are created with
//! (`src/events.zdict` and `src/cold.zdict`, see the `codec` module).
//!
//! ```text
//! gridloop demo --days 7 --orders-per-day 1000 --data D
//! gridloop export --data D > log.ndjson
//! cargo run --release -p gridloop-store-sled --example train-dictionary -- log.ndjson src/events.zdict
//! gridloop bench --scale --sizes 300k --keep --out S
//! cargo run --release -p gridloop-store-sled --example train-dictionary -- --cold S/data-300000 src/cold.zdict
//! ```
//!
//! With `--cold`, the samples are the projections' snapshots and cold rows
//! of a data directory (every seventh row; a scale bench's year holds rows
//! of every kind the views write).
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
    if let [_, flag, data, out] = &args[..] {
        assert_eq!(flag, "--cold", "usage: train-dictionary [--cold DATA_DIR | LOG.ndjson] OUT");
        return train(&cold_rows(std::path::Path::new(data)), out);
    }
    let [_, log, out] = &args[..] else { panic!("usage: train-dictionary [--cold DATA_DIR | LOG.ndjson] OUT") };
    let text = std::fs::read_to_string(log).expect("the export reads");
    let samples: Vec<Vec<u8>> = text
        .lines()
        .map(|line| {
            let event: RecordedEvent = serde_json::from_str(line).expect("an envelope per line");
            serde_json::to_vec(&RecordedEvent { position: 0, ..event }).expect("encodes")
        })
        .collect();
    train(&samples, out);
}

/// Every seventh row of the projections' tree, decoded.
fn cold_rows(data: &std::path::Path) -> Vec<Vec<u8>> {
    use gridloop_projections::cold::ColdStore;
    let store = gridloop_store_sled::SledStore::open(data).expect("the data directory opens");
    let cold = store.snapshots().expect("the projections' tree");
    let (mut rows, mut after, mut seen) = (Vec::new(), None::<Vec<u8>>, 0u64);
    loop {
        let page = cold.scan(b"", after.as_deref(), false, 10_000).expect("scan");
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (_, value) in page {
            seen += 1;
            if seen % 7 == 0 {
                rows.push(value);
            }
        }
    }
    rows
}

/// Trains on `samples`, writes the dictionary to `out`, and says how well
/// it compresses them.
fn train(samples: &[Vec<u8>], out: &str) {
    let dictionary = zstd::dict::from_samples(samples, DICTIONARY_BYTES).expect("trains");
    std::fs::write(out, &dictionary).expect("writes");
    let codec = gridloop_store_sled::codec::Codec::bounded(&dictionary, gridloop_store_sled::codec::COLD_BYTES_MAX);
    let json: usize = samples.iter().map(Vec::len).sum();
    let stored: usize = samples.iter().map(|s| codec.encode(s).expect("encodes").len()).sum();
    println!(
        "{} samples: {:.0} B of JSON, {:.0} B stored per sample; {} B of dictionary in {out}",
        samples.len(),
        json as f64 / samples.len() as f64,
        stored as f64 / samples.len() as f64,
        dictionary.len()
    );
}
