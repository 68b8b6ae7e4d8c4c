//! The photo routes: an upload is checked and stripped before it is
//! stored, every refusal stores nothing, and a ticket's photo is served
//! only to whoever may read the ticket, and only if the ticket names it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use gridloop_engine::blob::{BLOB_BYTES_MAX, BlobFuture, BlobHash, BlobState, BlobStore, MemoryBlobs};
use gridloop_engine::store::MemoryStore;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::{Harness, code, harness_with};

const GPS_JPEG: &[u8] = include_bytes!("../../../../fixtures/photos/gps.jpg");
const GPS_PNG: &[u8] = include_bytes!("../../../../fixtures/photos/gps.png");
const GPS_WEBP: &[u8] = include_bytes!("../../../../fixtures/photos/gps.webp");

/// Memory blobs that count what was put, to show that a refusal put nothing.
#[derive(Debug, Default)]
struct Counting {
    blobs: MemoryBlobs,
    puts: AtomicUsize,
}

impl BlobStore for Counting {
    fn put(&self, bytes: Vec<u8>) -> BlobFuture<'_, BlobHash> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.blobs.put(bytes)
    }
    fn get<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, Option<Vec<u8>>> {
        self.blobs.get(hash)
    }
    fn state<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, BlobState> {
        self.blobs.state(hash)
    }
    fn erase<'a>(&'a self, hash: &'a BlobHash) -> BlobFuture<'a, bool> {
        self.blobs.erase(hash)
    }
}

async fn with_photos() -> (Harness, Arc<Counting>) {
    let blobs = Arc::new(Counting::default());
    (harness_with(MemoryStore::new(), Some(blobs.clone())).await, blobs)
}

/// One request with a binary body; status, headers and body bytes.
async fn send(
    h: &Harness,
    method: &str,
    path: &str,
    who: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(path).header("content-type", "image/jpeg");
    if let Some(who) = who {
        request = request.header("authorization", format!("Bearer {}", h.token(who)));
    }
    let response = h.router.clone().oneshot(request.body(Body::from(body)).expect("request")).await.expect("answer");
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.expect("a body").to_vec();
    (status, headers, bytes)
}

async fn upload(h: &Harness, who: &str, body: &[u8]) -> (StatusCode, Value) {
    let (status, _, bytes) = send(h, "POST", "/api/v1/photos", Some(who), body.to_vec()).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn an_upload_is_stored_without_its_gps_and_answers_its_hash_type_and_size() {
    let (h, blobs) = with_photos().await;
    for (who, fixture, content_type) in [
        ("resident", GPS_JPEG, "image/jpeg"),
        ("volunteer", GPS_PNG, "image/png"),
        ("department", GPS_WEBP, "image/webp"),
    ] {
        let (status, answer) = upload(&h, who, fixture).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(
            (answer["content_type"].as_str(), answer["width"].as_u64(), answer["height"].as_u64()),
            (Some(content_type), Some(24), Some(16))
        );
        let hash: BlobHash = answer["hash"].as_str().expect("a hash").parse().expect("64 hex digits");
        let stored = blobs.get(&hash).await.expect("get").expect("stored");
        assert_eq!(hash, BlobHash::of(&stored));
        assert_ne!(stored, fixture, "what is stored is not what was sent");
        assert!(!contains(&stored, b"GridloopCam") && !contains(&stored, b"Exif\0"), "no camera, no EXIF");
        assert_eq!(stored, gridloop_media::check(fixture).expect("a photo").bytes);
    }
    assert_eq!(blobs.puts.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn refused_uploads_answer_4xx_with_a_sentence_and_store_nothing() {
    let (h, blobs) = with_photos().await;
    let text = b"Dear committee, the lift is broken again.".to_vec();
    let mut oversized = GPS_JPEG.to_vec();
    oversized.resize(BLOB_BYTES_MAX + 1, 0);
    let mut past_the_route = GPS_JPEG.to_vec();
    past_the_route.resize(gridloop_http::photos::PHOTO_BODY_BYTES_MAX + 1, 0);
    let mut bomb = GPS_PNG.to_vec();
    bomb[16..24].copy_from_slice(&[0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0]); // 100,000 × 100,000
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let cases: [(&str, Vec<u8>, u16, &str, &str); 5] = [
        ("a renamed text file", text, 400, "invalid_input", "JPEG, PNG or WebP"),
        ("an empty body", Vec::new(), 400, "invalid_input", "JPEG, PNG or WebP"),
        ("a photo past 5 MB", oversized, 413, "too_large", "5120 KiB"),
        ("a body past the route's limit", past_the_route, 413, "too_large", "bytes"),
        ("a decompression bomb's header", bomb, 400, "invalid_input", "100000×100000"),
    ];
    for (what, body, status, error, sentence) in cases {
        let (got, answer) = upload(&h, "resident", &body).await;
        assert_eq!(got.as_u16(), status, "{what}: {answer}");
        assert_eq!(code(&answer), error, "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(sentence), "{what}: {message}");
    }
    assert_eq!(blobs.puts.load(Ordering::SeqCst), 0, "nothing was stored");
}

/// CRC-32 (PNG's), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[tokio::test]
async fn a_photo_at_the_bound_passes_the_route_limit() {
    let (h, blobs) = with_photos().await;
    let mut padded = GPS_JPEG.to_vec();
    padded.resize(BLOB_BYTES_MAX, 0);
    let (status, answer) = upload(&h, "grid_worker", &padded).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let hash: BlobHash = answer["hash"].as_str().expect("a hash").parse().expect("hex");
    let stored = blobs.get(&hash).await.expect("get").expect("stored");
    assert!(stored.len() < GPS_JPEG.len(), "what follows the image is not stored");
}

#[tokio::test]
async fn who_may_upload_is_who_may_act_on_tickets() {
    let (h, blobs) = with_photos().await;
    for who in ["auditor", "admin"] {
        let (status, answer) = upload(&h, who, GPS_JPEG).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {answer}");
    }
    let (status, _, _) = send(&h, "POST", "/api/v1/photos", None, GPS_JPEG.to_vec()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(blobs.puts.load(Ordering::SeqCst), 0);
    let without = crate::harness().await;
    let (status, answer) = upload(&without, "resident", GPS_JPEG).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "invalid_input"), "a server without a blob store");
}

/// T-1 ordered for r-1 (the harness's resident) naming `photos`.
async fn ordered_with(h: &Harness, photos: Vec<BlobHash>) -> String {
    use gridloop_engine::envelope::{Actor, Role};
    use gridloop_engine::ids::{CommandId, ItemCode, ResidentId, TicketId};
    use gridloop_engine::service::{Command, CommandEnvelope};
    use gridloop_engine::ticket::{Channel, TicketCommand, Urgency};
    let submit = TicketCommand::Submit {
        item: ItemCode::new(crate::VOLUNTEER_ITEM).expect("an item"),
        grid: h.grid.clone(),
        resident: ResidentId::new("r-1").expect("a resident"),
        description: "a leaking tap".into(),
        urgency: Urgency::Normal,
        channel: Channel::Web,
        location: None,
        photos,
    };
    let envelope = CommandEnvelope {
        command_id: CommandId::new("order-with-photos").expect("an id"),
        correlation_id: None,
        actor: Actor::new(Role::Resident, "r-1").expect("an actor"),
        command: Command::Ticket { id: TicketId::from_number(1), command: submit },
        expected_version: None,
    };
    h.service.execute(envelope).await.expect("ordered");
    "T-1".into()
}

#[tokio::test]
async fn a_tickets_photo_is_served_stripped_with_its_type_and_cache_headers() {
    let (h, blobs) = with_photos().await;
    let (_, answer) = upload(&h, "resident", GPS_JPEG).await;
    let hash: BlobHash = answer["hash"].as_str().expect("a hash").parse().expect("hex");
    let id = ordered_with(&h, vec![hash]).await;

    let (status, headers, bytes) =
        send(&h, "GET", &format!("/api/v1/tickets/{id}/photos/{hash}"), Some("resident"), Vec::new()).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, blobs.get(&hash).await.expect("get").expect("stored"));
    assert!(!contains(&bytes, b"GridloopCam") && !contains(&bytes, b"Exif\0"), "the stripped bytes are served");
    assert_eq!(headers["content-type"], "image/jpeg");
    let cache = headers["cache-control"].to_str().expect("ascii");
    assert!(cache.starts_with("private, max-age=") && cache.ends_with(", immutable"), "{cache}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_photo_is_served_only_to_readers_of_the_ticket_and_only_if_the_ticket_names_it() {
    let (h, blobs) = with_photos().await;
    let (_, named) = upload(&h, "resident", GPS_PNG).await;
    let (_, other) = upload(&h, "resident", GPS_WEBP).await;
    let named: BlobHash = named["hash"].as_str().expect("a hash").parse().expect("hex");
    let other: BlobHash = other["hash"].as_str().expect("a hash").parse().expect("hex");
    let id = ordered_with(&h, vec![named]).await;
    let at = |hash: &str| format!("/api/v1/tickets/{id}/photos/{hash}");
    for (who, status) in [
        ("resident", 200),
        ("auditor", 200),
        ("dispatcher", 200),
        ("neighbour", 404),
        ("rival", 404),
        ("far_dispatcher", 403),
    ] {
        let (got, _, _) = send(&h, "GET", &at(&named.to_hex()), Some(who), Vec::new()).await;
        assert_eq!(got.as_u16(), status, "{who}");
    }
    let (got, _, _) = send(&h, "GET", &at(&named.to_hex()), None, Vec::new()).await;
    assert_eq!(got, StatusCode::UNAUTHORIZED);
    for (what, hash) in [
        ("stored but not named", other.to_hex()),
        ("not a hash", "x".repeat(300)),
        ("upper case", named.to_hex().to_uppercase()),
    ] {
        let (got, _, body) = send(&h, "GET", &at(&hash), Some("resident"), Vec::new()).await;
        let answer: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!((got, code(&answer)), (StatusCode::NOT_FOUND, "not_found"), "{what}: {answer}");
    }
    blobs.erase(&named).await.expect("erase");
    let (got, _, _) = send(&h, "GET", &at(&named.to_hex()), Some("resident"), Vec::new()).await;
    assert_eq!(got, StatusCode::NOT_FOUND, "an erased photo is gone");
}
