//! Conformance adapter: the `--impl` protocol of conformance/README.md over the Rust codec.
//!
//! ```text
//! tensorcbor-adapter decode tensor|bundle   < vector bytes   -> one JSON line
//! tensorcbor-adapter encode tensor|bundle   < expected JSON  -> hex
//! tensorcbor-adapter stream                 < stream request -> one JSON line (verdicts, end, document_sha256)
//! tensorcbor-adapter batch                  < JSON lines     -> one JSON line per request
//! ```
//! Run the suite with `tensorcbor conformance run --impl bindings/rust/target/release/tensorcbor-adapter --batch`.

mod protocol;

use std::io::{self, BufRead, Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args[..] {
        ["batch"] => {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                let answer = match serde_json::from_str(&line) {
                    Ok(request) => protocol::answer(&request),
                    Err(e) => serde_json::json!({
                        "id": null, "error": "ADAPTER_ERROR", "message": format!("bad request: {e}")
                    }),
                };
                if writeln!(out, "{answer}")
                    .and_then(|()| out.flush())
                    .is_err()
                {
                    break;
                }
            }
            ExitCode::SUCCESS
        }
        ["decode", kind @ ("tensor" | "bundle")] => {
            let mut data = Vec::new();
            if let Err(e) = io::stdin().read_to_end(&mut data) {
                eprintln!("cannot read stdin: {e}");
                return ExitCode::FAILURE;
            }
            let _ = writeln!(out, "{}", protocol::decode_json(&data, kind));
            ExitCode::SUCCESS
        }
        ["stream"] => {
            let request: serde_json::Value = match serde_json::from_reader(io::stdin().lock()) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("stdin is not JSON: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match protocol::stream_answer(&request) {
                Ok(answer) => {
                    let _ = writeln!(out, "{answer}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        ["encode", kind @ ("tensor" | "bundle")] => {
            let value: serde_json::Value = match serde_json::from_reader(io::stdin().lock()) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("stdin is not JSON: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match protocol::encode_json(&value, kind) {
                Ok(bytes) => {
                    let _ = writeln!(out, "{}", protocol::to_hex(&bytes));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: tensorcbor-adapter decode|encode tensor|bundle  |  tensorcbor-adapter stream  |  tensorcbor-adapter batch");
            ExitCode::from(2)
        }
    }
}
