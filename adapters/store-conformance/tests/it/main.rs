//! The reference in-memory store passes the suite it defines.

use gridloop_engine::store::MemoryStore;

gridloop_store_conformance::conformance_tests!(async { (MemoryStore::new(), ()) });

/// The reference blob store passes the blob suite.
mod blobs {
    use gridloop_engine::blob::MemoryBlobs;

    gridloop_store_conformance::blob_conformance_tests!(async { (MemoryBlobs::new(), ()) });
}

/// The reference cold store passes the cold suite.
mod cold {
    gridloop_store_conformance::cold_conformance_tests!(
        gridloop_store_conformance::cold::MemoryFixture::default(),
        256
    );
}
