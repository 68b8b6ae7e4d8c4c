//! The shared store conformance suite, each check on its own fresh server.

use gridloop_store_nats::server::NatsServer;
use gridloop_store_nats::{NatsConfig, NatsStore};

async fn fresh() -> (NatsStore, (NatsServer, tempfile::TempDir)) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = NatsServer::start(dir.path(), false);
    let store = NatsStore::connect(NatsConfig::parse(&server.url()).expect("url")).await.expect("connect");
    (store, (server, dir))
}

gridloop_store_conformance::conformance_tests!(fresh());
