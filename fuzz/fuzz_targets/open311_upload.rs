#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gridloop_fuzz::open311_upload(data));
