//! The world as of an instant is the fold of the world stream up to it.

use gridloop_engine::service::Clock;
use gridloop_engine::time::{Millis, Timestamp};
use gridloop_engine::world::WorldState;
use gridloop_world::world_as_of;

use crate::import::{Harness, bundle, changed_files};
use crate::support::files;

#[tokio::test]
async fn the_world_before_a_change_is_the_old_world() {
    let h = Harness::new().await;
    let old = bundle(&files());
    let new = bundle(&changed_files());
    let first = h.clock.now();
    h.import(&old).await;
    h.clock.advance(Millis::hours(1));
    h.import(&new).await;
    let log = h.store.snapshot();
    let before_anything = Timestamp::parse("2026-01-05T07:59:59Z").unwrap();
    assert_eq!(world_as_of(&log, before_anything).unwrap(), WorldState::default());
    assert_eq!(world_as_of(&log, first).unwrap(), old.world);
    assert_eq!(world_as_of(&log, first.plus(Millis::minutes(59))).unwrap(), old.world);
    assert_eq!(world_as_of(&log, h.clock.now()).unwrap(), new.world);
}
