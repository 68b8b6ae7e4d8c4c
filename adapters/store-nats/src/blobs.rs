//! Evidence photos on NATS: a JetStream Object Store bucket beside the log
//! (`<prefix>-blobs`, so `gridloop-blobs` for the default prefix:
//! two logs on one server have two prefixes, so two buckets), one
//! object per photo named by its hash in hex.
//!
//! Why the Object Store: any NATS client can read a photo with the same
//! credentials as the log, photos are replicated like the stream
//! (`replicas` from the `nats://` address), and large values are chunked
//! for us. Erasing deletes the object: the server purges its chunks and
//! keeps the object's info marked `deleted`, which is the tombstone (an
//! erased photo reads as erased, not missing). A read checks the bytes
//! against the hash, so a changed object is `Error::Corrupt`.

use async_nats::jetstream::object_store::{self, GetErrorKind, InfoErrorKind, ObjectStore};
use gridloop_engine::Error;
use gridloop_engine::blob::{BLOB_BYTES_MAX, BlobFuture, BlobHash, BlobState, BlobStore, check_size};
use tokio::io::AsyncReadExt;

use crate::NatsStore;

/// The engine's `BlobStore` on a JetStream Object Store bucket.
#[derive(Clone)]
pub struct NatsBlobs {
    bucket: ObjectStore,
}

impl std::fmt::Debug for NatsBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NatsBlobs")
    }
}

fn storage(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("NATS object store: {what}: {e}"))
}

impl NatsStore {
    /// The photo bucket of this log, created (file storage, the stream's
    /// replicas) when it does not exist yet.
    pub async fn blobs(&self) -> Result<NatsBlobs, Error> {
        let name = format!("{}-blobs", self.inner.config.prefix);
        let bucket = match self.inner.js.get_object_store(&name).await {
            Ok(bucket) => bucket,
            Err(_) => {
                let config = object_store::Config {
                    bucket: name.clone(),
                    description: Some("gridloop's evidence photos, named by BLAKE3 hash".into()),
                    storage: async_nats::jetstream::stream::StorageType::File,
                    num_replicas: self.inner.config.replicas,
                    ..Default::default()
                };
                self.inner.js.create_object_store(config).await.map_err(|e| storage(&name, e))?
            }
        };
        Ok(NatsBlobs { bucket })
    }
}

impl NatsBlobs {
    /// What the bucket says of an object: `None` when it never held it.
    async fn info(&self, name: &str) -> Result<Option<object_store::ObjectInfo>, Error> {
        match self.bucket.info(name).await {
            Ok(info) => Ok(Some(info)),
            Err(e) if e.kind() == InfoErrorKind::NotFound => Ok(None),
            Err(e) => Err(storage(name, e)),
        }
    }
}

impl BlobStore for NatsBlobs {
    fn put(&self, bytes: Vec<u8>) -> BlobFuture<'_, BlobHash> {
        Box::pin(async move {
            check_size(&bytes)?;
            let hash = BlobHash::of(&bytes);
            let name = hash.to_hex();
            // Content addressing makes a present object the same bytes:
            // skip the upload (a stored object that changed is found by
            // `get` and the audit, not hidden by overwriting it).
            if self.info(&name).await?.is_some_and(|info| !info.deleted) {
                return Ok(hash);
            }
            self.bucket.put(name.as_str(), &mut bytes.as_slice()).await.map_err(|e| storage(&name, e))?;
            Ok(hash)
        })
    }

    fn get<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let name = hash.to_hex();
            let object = match self.bucket.get(&name).await {
                Ok(object) => object,
                Err(e) if e.kind() == GetErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(storage(&name, e)),
            };
            let mut bytes = Vec::new();
            object.take(BLOB_BYTES_MAX as u64 + 1).read_to_end(&mut bytes).await.map_err(|e| storage(&name, e))?;
            if BlobHash::of(&bytes) != *hash {
                return Err(Error::Corrupt(format!("the photo stored as {hash} no longer matches its hash")));
            }
            Ok(Some(bytes))
        })
    }

    fn state<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, BlobState> {
        Box::pin(async move {
            Ok(match self.info(&hash.to_hex()).await? {
                Some(info) if info.deleted => BlobState::Erased,
                Some(_) => BlobState::Present,
                None => BlobState::Missing,
            })
        })
    }

    fn erase<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, bool> {
        Box::pin(async move {
            let name = hash.to_hex();
            let had = match self.info(&name).await? {
                Some(info) if info.deleted => return Ok(false),
                Some(_) => true,
                None => {
                    // Nothing to delete, but the erasure is still recorded:
                    // an empty object, deleted at once, is the tombstone.
                    self.bucket.put(name.as_str(), &mut &[][..]).await.map_err(|e| storage(&name, e))?;
                    false
                }
            };
            self.bucket.delete(&name).await.map_err(|e| storage(&name, e))?;
            Ok(had)
        })
    }
}
