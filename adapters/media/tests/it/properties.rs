//! `check` never panics, and what it returns checks to itself.

use gridloop_media::check;
use proptest::prelude::*;

use crate::fixtures::*;

/// A fixture with some bytes overwritten and its tail maybe cut or grown.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![GPS_JPEG, GPS_PNG, GPS_WEBP]),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(fixture, edits, cut, tail)| {
            let mut bytes = fixture.to_vec();
            for (index, byte) in edits {
                let at = index.index(bytes.len());
                bytes[at] = byte;
            }
            bytes.truncate(cut.index(bytes.len() + 1).max(bytes.len() / 2));
            bytes.extend(tail);
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_500, ..ProptestConfig::default() })]

    #[test]
    fn check_never_panics_and_its_output_rechecks_to_itself(
        bytes in prop_oneof![prop::collection::vec(any::<u8>(), 0..256), mutated()],
    ) {
        if let Ok(photo) = check(&bytes) {
            let again = check(&photo.bytes);
            prop_assert_eq!(again.as_ref(), Ok(&photo));
            prop_assert!(photo.bytes.len() <= bytes.len() + 16);
        }
    }
}
