//! Fuzz target: see `jwtprobe::fuzzing::scenario`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| jwtprobe::fuzzing::scenario(data));
