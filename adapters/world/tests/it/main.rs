//! The world bundle crate's tests: small bundles written from the tests
//! into temporary directories (`support`), read, broken, re-encoded,
//! imported and imported again.

mod as_of;
mod broken;
mod calendar;
mod encoding;
mod examples;
mod fuzz_corpus;
mod geojson;
mod import;
mod read;
mod support;
