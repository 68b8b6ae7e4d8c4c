//! The reference in-memory store passes the suite it defines.

use gridloop_engine::store::MemoryStore;

gridloop_store_conformance::conformance_tests!(async { (MemoryStore::new(), ()) });
