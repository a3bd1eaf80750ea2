//! Fuzz target: see `jwtprobe::fuzzing::pick`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jwtprobe::fuzzing::pick(data));
