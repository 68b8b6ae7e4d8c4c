//! Evidence photos on sled, in the log's own database: a tree `blobs`
//! (hash → bytes) and a tree `blob-tombstones` (hash → the empty value) for
//! erased ones.
//!
//! Why beside the log rather than in files of their own: one data
//! directory is one thing to back up, to lock and to move, and a photo is
//! never separated from the events that name it by a partial restore. sled
//! keeps values of a few megabytes without trouble, and a photo is at most
//! [`BLOB_BYTES_MAX`]. Writes run on the blocking pool (sled flushes with
//! fsync) and do not go through the log's writer thread, so a photo upload
//! never delays an append.
//!
//! Erasure writes the tombstone before it removes the bytes, so a crash in
//! between leaves the bytes and the tombstone (the photo reads as present,
//! and erasing again finishes the job), never neither. The same limitation
//! as the personal store: sled rewrites segment files lazily, so removed
//! bytes can linger on disk until their segment is reused.
//!
//! [`BLOB_BYTES_MAX`]: gridloop_engine::blob::BLOB_BYTES_MAX

use gridloop_engine::Error as EngineError;
use gridloop_engine::blob::{BlobFuture, BlobHash, BlobState, BlobStore, check_size};

/// The engine's `BlobStore` on the store's sled database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SledBlobs {
    blobs: sled::Tree,
    tombstones: sled::Tree,
}

impl SledBlobs {
    pub(crate) fn open(db: &sled::Db) -> Result<Self, EngineError> {
        Ok(Self {
            blobs: db.open_tree("blobs").map_err(storage)?,
            tombstones: db.open_tree("blob-tombstones").map_err(storage)?,
        })
    }

    /// Runs `work` on a clone of this store on tokio's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(SledBlobs) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let blobs = self.clone();
        tokio::task::spawn_blocking(move || work(blobs))
            .await
            .map_err(|e| EngineError::Storage(format!("a blob task failed: {e}")))?
    }
}

fn storage(e: sled::Error) -> EngineError {
    EngineError::Storage(e.to_string())
}

impl BlobStore for SledBlobs {
    fn put(&self, bytes: Vec<u8>) -> BlobFuture<'_, BlobHash> {
        Box::pin(async move {
            check_size(&bytes)?;
            let hash = BlobHash::of(&bytes);
            self.blocking(move |store| {
                store.blobs.insert(hash.as_bytes(), bytes).map_err(storage)?;
                store.tombstones.remove(hash.as_bytes()).map_err(storage)?;
                store.blobs.flush().map_err(storage)?;
                Ok(hash)
            })
            .await
        })
    }

    fn get<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, Option<Vec<u8>>> {
        let hash = *hash;
        Box::pin(self.blocking(move |store| {
            let Some(bytes) = store.blobs.get(hash.as_bytes()).map_err(storage)? else { return Ok(None) };
            if BlobHash::of(&bytes) != hash {
                return Err(EngineError::Corrupt(format!("the photo stored as {hash} no longer matches its hash")));
            }
            Ok(Some(bytes.to_vec()))
        }))
    }

    fn state<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, BlobState> {
        let hash = *hash;
        Box::pin(self.blocking(move |store| {
            if store.blobs.contains_key(hash.as_bytes()).map_err(storage)? {
                Ok(BlobState::Present)
            } else if store.tombstones.contains_key(hash.as_bytes()).map_err(storage)? {
                Ok(BlobState::Erased)
            } else {
                Ok(BlobState::Missing)
            }
        }))
    }

    fn erase<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, bool> {
        let hash = *hash;
        Box::pin(self.blocking(move |store| {
            store.tombstones.insert(hash.as_bytes(), &[]).map_err(storage)?;
            let had = store.blobs.remove(hash.as_bytes()).map_err(storage)?.is_some();
            store.blobs.flush().map_err(storage)?;
            Ok(had)
        }))
    }
}
