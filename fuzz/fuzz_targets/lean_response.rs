//! Fuzz target: see `jwtprobe::fuzzing::lean_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jwtprobe::fuzzing::lean_response(data));
