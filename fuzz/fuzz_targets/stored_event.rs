#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gridloop_fuzz::stored_event(data));
