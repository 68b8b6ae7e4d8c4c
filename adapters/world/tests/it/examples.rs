//! The two example bundles of `fixtures/worlds/` read clean and import, and
//! a second import writes nothing.

use std::path::{Path, PathBuf};

use gridloop_world::{Encoding, read};

use crate::import::Harness;
use crate::support::printed;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds").join(name)
}

#[tokio::test]
async fn the_examples_read_and_import_once() {
    for name in ["chikan", "dingzhou"] {
        let bundle = read(&example(name), Encoding::Auto).unwrap_or_else(|p| panic!("{name}:\n{}", printed(&p)));
        assert!(!bundle.volunteers.is_empty(), "{name} has volunteers");
        let h = Harness::new().await;
        let first = h.import(&bundle).await;
        assert!(first.world_events > 0 && first.volunteers_registered == bundle.volunteers.len(), "{name}: {first:?}");
        let before = h.store.snapshot().len();
        assert!(h.import(&bundle).await.wrote_nothing(), "{name}: the second import writes nothing");
        assert_eq!(h.store.snapshot().len(), before);
    }
}
