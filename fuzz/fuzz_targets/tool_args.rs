#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| shared::edge::fuzzing::tool_args(data));
