//! Photos in a JetStream Object Store bucket pass the blob suite, and a
//! changed object reads as corrupt.

use gridloop_engine::Error;
use gridloop_engine::blob::{BlobState, BlobStore};
use gridloop_store_conformance::blobs::photo;
use gridloop_store_nats::blobs::NatsBlobs;
use gridloop_store_nats::server::NatsServer;
use gridloop_store_nats::{NatsConfig, NatsStore};

async fn fresh() -> (NatsBlobs, (NatsStore, NatsServer, tempfile::TempDir)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = NatsServer::start(dir.path(), false);
    let store = NatsStore::connect(NatsConfig::parse(&server.url()).expect("url")).await.expect("connect");
    (store.blobs().await.expect("bucket"), (store, server, dir))
}

gridloop_store_conformance::blob_conformance_tests!(fresh());

#[tokio::test]
async fn the_bucket_is_named_after_the_prefix_and_a_changed_object_reads_as_corrupt() {
    let (blobs, (store, _server, _dir)) = fresh().await;
    let hash = blobs.put(photo(1)).await.expect("put");
    let js = async_nats::jetstream::new(store.client().clone());
    let bucket = js.get_object_store(format!("{}-blobs", store.config().prefix)).await.expect("the bucket exists");
    // Another client overwrites the object with other bytes.
    bucket.put(hash.to_hex().as_str(), &mut photo(2).as_slice()).await.expect("overwrite");
    match blobs.get(&hash).await {
        Err(Error::Corrupt(detail)) => assert!(detail.contains(&hash.to_hex()), "{detail}"),
        other => panic!("expected corrupt, got {other:?}"),
    }
    assert_eq!(blobs.state(&hash).await.expect("state"), BlobState::Present);
    // A second handle on the same log finds the same bucket.
    let again = store.blobs().await.expect("bucket again");
    assert_eq!(again.state(&hash).await.expect("state"), BlobState::Present);
}
