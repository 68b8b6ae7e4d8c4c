//! After-photos over the API: a handler resolves with the hashes of photos
//! already stored, the ticket keeps them, and whoever may read the ticket
//! reads them back; a hash that names nothing stored, or too many, are
//! refused and write nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use std::sync::Arc;

use gridloop_engine::blob::{BlobHash, BlobStore as _, MemoryBlobs};
use gridloop_engine::store::EventStore as _;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::{Harness, code};

/// A small real JPEG (16×12, made with Pillow), as a handler's phone sends.
pub const AFTER_JPG: &[u8] = include_bytes!("../../../../fixtures/photos/after.jpg");

/// A harness whose server keeps photos in memory, and that memory.
pub async fn with_photos() -> (Harness, Arc<MemoryBlobs>) {
    let blobs = Arc::new(MemoryBlobs::new());
    let h = crate::harness_with(gridloop_engine::store::MemoryStore::new(), Some(blobs.clone())).await;
    (h, blobs)
}

/// Stores `bytes` as an upload would; returns the hash it answered.
async fn uploaded(blobs: &MemoryBlobs, bytes: &[u8]) -> BlobHash {
    blobs.put(bytes.to_vec()).await.expect("stored")
}

async fn log_length(h: &Harness) -> usize {
    h.store.read_all(0, 100_000).await.expect("the log").len()
}

/// A ticket V-1 has accepted.
async fn accepted(h: &Harness) -> String {
    let id = h.offered().await;
    let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/accept"), "volunteer", "").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    id
}

/// GET of a photo as `who`: status, content type, bytes.
pub async fn photo(h: &Harness, path: &str, who: &str) -> (StatusCode, String, Vec<u8>) {
    let request = Request::get(path)
        .header("authorization", format!("Bearer {}", h.token(who)))
        .body(Body::empty())
        .expect("request");
    let response = h.router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22).await.expect("a body");
    (status, kind, bytes.to_vec())
}

#[tokio::test]
async fn a_volunteer_resolves_with_after_photos_that_the_resident_can_see() {
    let (h, blobs) = with_photos().await;
    let id = accepted(&h).await;
    let hash = uploaded(&blobs, AFTER_JPG).await;
    let resolve = format!(r#"{{"result":"fixed the tap","minutes_spent":30,"photos":["{hash}"]}}"#);
    let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/resolve"), "volunteer", &resolve).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, ticket) = h.get(&format!("/api/v1/tickets/{id}"), "resident").await;
    assert_eq!(ticket["result_photos"], serde_json::json!([hash.to_hex()]), "{ticket}");
    assert_eq!(ticket["result"], "fixed the tap");

    let path = format!("/api/v1/tickets/{id}/photos/{hash}");
    let (status, kind, bytes) = photo(&h, &path, "resident").await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "image/jpeg"));
    assert_eq!(BlobHash::of(&bytes), hash, "the bytes stored under the hash");
    // A neighbour may not read the ticket, so not its photo either; a hash
    // the ticket does not name is not served through it.
    assert_eq!(photo(&h, &path, "neighbour").await.0, StatusCode::NOT_FOUND);
    let stranger = uploaded(&blobs, b"\xFF\xD8\xFF another photo").await;
    let (status, _, _) = photo(&h, &format!("/api/v1/tickets/{id}/photos/{stranger}"), "resident").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = photo(&h, &format!("/api/v1/tickets/{id}/photos/not-a-hash"), "resident").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn photos_not_stored_or_too_many_are_refused_and_write_nothing() {
    let (h, blobs) = with_photos().await;
    let id = accepted(&h).await;
    let before = log_length(&h).await;
    let resolve = |photos: &[String]| {
        let photos = Value::from(photos.to_vec());
        format!(r#"{{"result":"fixed","minutes_spent":30,"photos":{photos}}}"#)
    };
    let path = format!("/api/v1/tickets/{id}/resolve");
    let never_stored = BlobHash::of(b"never uploaded").to_hex();
    let (status, answer) = h.post(&path, "volunteer", &resolve(&[never_stored])).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"), "{answer}");
    let mut seven = Vec::new();
    for n in 0..7u8 {
        seven.push(uploaded(&blobs, &[0xFF, 0xD8, 0xFF, n]).await.to_hex());
    }
    let (status, answer) = h.post(&path, "volunteer", &resolve(&seven)).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"), "{answer}");
    let twice = [seven[0].clone(), seven[0].clone()];
    let (status, answer) = h.post(&path, "volunteer", &resolve(&twice)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = h.post(&path, "volunteer", &resolve(&["ABC".to_string()])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(log_length(&h).await, before, "nothing written");
    // Six is the bound, and the engine takes them.
    let (status, answer) = h.post(&path, "volunteer", &resolve(&seven[..6])).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// A department resolves with after-photos as a volunteer does: the
/// permit rule, not the route, decides who may.
#[tokio::test]
async fn a_department_resolves_with_after_photos_too() {
    let (h, blobs) = with_photos().await;
    let id = h.order(crate::DEPARTMENT_ITEM).await;
    let assign = r#"{"to":{"kind":"department","id":"civil_affairs"},"reason":"派单"}"#;
    let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/assign"), "dispatcher", assign).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let hash = uploaded(&blobs, AFTER_JPG).await;
    let resolve = format!(r#"{{"result":"路灯已修复","minutes_spent":90,"photos":["{hash}"]}}"#);
    let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/resolve"), "neighbour", &resolve).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a stranger may not: {answer}");
    let (status, answer) = h.post(&format!("/api/v1/tickets/{id}/resolve"), "department", &resolve).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, ticket) = h.get(&format!("/api/v1/tickets/{id}"), "department").await;
    assert_eq!(ticket["result_photos"], serde_json::json!([hash.to_hex()]), "{ticket}");
}
