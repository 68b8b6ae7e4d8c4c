//! The blob conformance suite: what every `BlobStore` promises
//! (`gridloop_engine::blob`), checked through `&dyn BlobStore` so that the
//! trait stays object-safe.
//!
//! An adapter's tests call [`blob_conformance_tests!`](crate::blob_conformance_tests)
//! with an expression making a fresh store and a guard:
//!
//! ```text
//! gridloop_store_conformance::blob_conformance_tests!(async { (MemoryBlobs::new(), ()) });
//! ```
//!
//! That a read checks the bytes against their hash is tested per store, by
//! changing the bytes behind the store's back (each store's own way).

use gridloop_engine::Error;
use gridloop_engine::blob::{BLOB_BYTES_MAX, BlobHash, BlobState, BlobStore};

/// Generates one `#[tokio::test]` per blob check.
#[macro_export]
macro_rules! blob_conformance_tests {
    ($make:expr) => {
        $crate::blob_conformance_tests!(@each $make;
            put_then_get_returns_the_bytes_under_their_hash,
            unknown_hashes_are_missing,
            erase_leaves_a_tombstone_and_is_idempotent,
            put_after_erase_stores_again,
            oversized_blobs_are_refused_and_nothing_is_stored,
            a_blob_at_the_bound_round_trips,
            concurrent_puts_all_land,
        );
    };
    (@each $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, _guard) = $make.await;
                $crate::blobs::$check(&store).await;
            }
        )*
    };
}

/// Bytes that differ by `n`, of some kilobytes (not a multiple of any chunk).
pub fn photo(n: u32) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..70_001u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    bytes
}

/// Put returns the BLAKE3 hash; get returns the bytes; putting twice is once.
pub async fn put_then_get_returns_the_bytes_under_their_hash(store: &dyn BlobStore) {
    let bytes = photo(1);
    let hash = store.put(bytes.clone()).await.expect("put");
    assert_eq!(hash, BlobHash::of(&bytes));
    assert_eq!(store.get(&hash).await.expect("get"), Some(bytes.clone()));
    assert_eq!(store.state(&hash).await.expect("state"), BlobState::Present);
    assert_eq!(store.put(bytes.clone()).await.expect("put again"), hash);
    assert_eq!(store.get(&hash).await.expect("get"), Some(bytes));
    let empty = store.put(Vec::new()).await.expect("an empty blob");
    assert_eq!(store.get(&empty).await.expect("get"), Some(Vec::new()));
}

/// A hash nothing was stored under reads as missing.
pub async fn unknown_hashes_are_missing(store: &dyn BlobStore) {
    let hash = BlobHash::of(b"never stored");
    assert_eq!(store.get(&hash).await.expect("get"), None);
    assert_eq!(store.state(&hash).await.expect("state"), BlobState::Missing);
}

/// Erasing removes the bytes and leaves "erased"; twice is as once; erasing
/// what was never there records the erasure too.
pub async fn erase_leaves_a_tombstone_and_is_idempotent(store: &dyn BlobStore) {
    let kept = store.put(photo(2)).await.expect("put");
    let hash = store.put(photo(3)).await.expect("put");
    assert!(store.erase(&hash).await.expect("erase"), "there were bytes");
    assert_eq!(store.get(&hash).await.expect("get"), None);
    assert_eq!(store.state(&hash).await.expect("state"), BlobState::Erased);
    assert!(!store.erase(&hash).await.expect("erase again"), "nothing left");
    assert_eq!(store.state(&hash).await.expect("state"), BlobState::Erased);
    assert_eq!(store.get(&kept).await.expect("get"), Some(photo(2)), "other blobs are untouched");
    let never = BlobHash::of(b"never stored");
    assert!(!store.erase(&never).await.expect("erase"));
    assert_eq!(store.state(&never).await.expect("state"), BlobState::Erased);
}

/// A new upload of erased bytes is a new consent: it is stored again.
pub async fn put_after_erase_stores_again(store: &dyn BlobStore) {
    let hash = store.put(photo(4)).await.expect("put");
    store.erase(&hash).await.expect("erase");
    assert_eq!(store.put(photo(4)).await.expect("put again"), hash);
    assert_eq!(store.state(&hash).await.expect("state"), BlobState::Present);
    assert_eq!(store.get(&hash).await.expect("get"), Some(photo(4)));
}

/// Past the bound: `Invalid` on `photo`, and the hash stays missing.
pub async fn oversized_blobs_are_refused_and_nothing_is_stored(store: &dyn BlobStore) {
    let bytes = vec![7u8; BLOB_BYTES_MAX + 1];
    let hash = BlobHash::of(&bytes);
    match store.put(bytes).await {
        Err(Error::Invalid { field: "photo", .. }) => {}
        other => panic!("expected an invalid photo, got {other:?}"),
    }
    assert_eq!(store.state(&hash).await.expect("state"), BlobState::Missing);
}

/// A blob of exactly the bound is stored and read back whole.
pub async fn a_blob_at_the_bound_round_trips(store: &dyn BlobStore) {
    let mut bytes = photo(5);
    bytes.resize(BLOB_BYTES_MAX, 9);
    let hash = store.put(bytes.clone()).await.expect("put");
    assert_eq!(store.get(&hash).await.expect("get").map(|b| b.len()), Some(BLOB_BYTES_MAX));
    assert_eq!(store.get(&hash).await.expect("get"), Some(bytes));
}

/// Sixteen puts at once, of eight distinct blobs each put twice, all land.
pub async fn concurrent_puts_all_land(store: &dyn BlobStore) {
    let puts = (0..16u32).map(|i| store.put(photo(100 + i % 8)));
    let hashes = futures_util::future::join_all(puts).await;
    for (i, hash) in hashes.into_iter().enumerate() {
        let hash = hash.expect("put");
        assert_eq!(hash, BlobHash::of(&photo(100 + i as u32 % 8)));
        assert_eq!(store.get(&hash).await.expect("get"), Some(photo(100 + i as u32 % 8)));
    }
}
