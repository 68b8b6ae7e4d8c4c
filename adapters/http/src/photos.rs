//! Evidence photos over HTTP: the one path by which a photo's bytes reach
//! the blob store ([`store`]), used by every route that takes photos (the
//! resident's order, a handler's result, Open311's upload).
//!
//! Bytes are checked before anything is stored, so a refused photo leaves
//! nothing behind.

use gridloop_engine::Error;
use gridloop_engine::blob::{BlobHash, check_size};
use gridloop_engine::store::EventStore;

use crate::{AppError, AppState};

/// Checks `bytes` as a photo and stores them; the hash names them in events.
/// A server without a blob store refuses photos rather than drop them.
pub async fn store<S: EventStore>(state: &AppState<S>, bytes: Vec<u8>) -> Result<BlobHash, AppError> {
    let Some(blobs) = &state.blobs else {
        return Err(Error::invalid("photo", "this server keeps no photos").into());
    };
    check_size(&bytes)?;
    Ok(blobs.put(bytes).await?)
}
