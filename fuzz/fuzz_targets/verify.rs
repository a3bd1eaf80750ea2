//! Fuzz target: see `jwtprobe::fuzzing::verify`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jwtprobe::fuzzing::verify(data));
