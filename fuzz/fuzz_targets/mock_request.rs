//! Fuzz target: see `jwtprobe::fuzzing::mock_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jwtprobe::fuzzing::mock_request(data));
