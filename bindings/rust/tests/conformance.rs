//! The core conformance suite (../../conformance/v1), every vector, no skipping; plus a no-panic sweep.

#[path = "../src/bin/tensorcbor-adapter/protocol.rs"]
#[allow(dead_code)]
mod protocol;

use serde_json::Value as Json;
use std::path::PathBuf;
use tensorcbor::{
    check_tensor_elements, decode_bundle, decode_tensor, index_bundle, DType, Elements, ErrorCode,
    Value,
};

/// The core suite: $TENSORCBOR_CONFORMANCE_SUITE (as for the Python runner), else the checkout's.
fn suite_dir() -> PathBuf {
    std::env::var_os("TENSORCBOR_CONFORMANCE_SUITE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/v1"))
}

fn manifest() -> Json {
    let path = suite_dir().join("manifest.json");
    let text =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_slice(&text).expect("manifest.json is JSON")
}

fn core_vectors(m: &Json) -> Vec<&Json> {
    m["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .filter(|v| v["profile"] == "core")
        .collect()
}

fn read_vector(v: &Json) -> Vec<u8> {
    let path = suite_dir().join(v["file"].as_str().expect("file"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Typed-metadata equality as in compare.py: floats by value (NaN equals NaN, -0 differs from 0).
fn meta_equal(want: &Json, got: &Json) -> bool {
    match (want.as_object(), got.as_object()) {
        (Some(w), Some(g)) if w.len() == 1 && g.len() == 1 => {
            let (tag, wb) = w.iter().next().unwrap();
            let Some(gb) = g.get(tag) else { return false };
            match tag.as_str() {
                "int" => {
                    wb.as_str().and_then(|s| s.parse::<i128>().ok())
                        == gb.as_str().and_then(|s| s.parse::<i128>().ok())
                }
                "float" => {
                    let a = protocol::parse_float(wb.as_str().unwrap_or("")).ok();
                    let b = protocol::parse_float(gb.as_str().unwrap_or("")).ok();
                    match (a, b) {
                        (Some(a), Some(b)) => {
                            (a.is_nan() && b.is_nan())
                                || (a == b && a.is_sign_negative() == b.is_sign_negative())
                        }
                        _ => false,
                    }
                }
                "bytes" => wb.as_str().map(str::to_lowercase) == gb.as_str().map(str::to_lowercase),
                "array" => {
                    let (w, g) = (wb.as_array().unwrap(), gb.as_array().unwrap());
                    w.len() == g.len() && w.iter().zip(g).all(|(a, b)| meta_equal(a, b))
                }
                "map" => {
                    let (w, g) = (wb.as_array().unwrap(), gb.as_array().unwrap());
                    w.len() == g.len()
                        && w.iter()
                            .zip(g)
                            .all(|(a, b)| a[0] == b[0] && meta_equal(&a[1], &b[1]))
                }
                _ => false,
            }
        }
        _ => want == got,
    }
}

/// What differs between an expected tensor object and the decoded one (via the typed API).
fn tensor_diff(want: &Json, t: &tensorcbor::TensorView<'_>) -> Option<String> {
    let dtype = DType::from_name(want["dtype"].as_str().unwrap()).unwrap();
    if t.dtype != dtype || want["dtype_code"].as_u64() != Some(t.dtype.code() as u64) {
        return Some(format!("dtype: expected {dtype}, got {}", t.dtype));
    }
    let shape: Vec<u64> = want["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap())
        .collect();
    if t.shape != shape {
        return Some(format!("shape: expected {shape:?}, got {:?}", t.shape));
    }
    match &t.elements {
        Elements::Bytes(b) => {
            let want_hex = want["data_hex"]
                .as_str()
                .unwrap_or("<no data_hex>")
                .to_lowercase();
            (protocol::to_hex(b) != want_hex)
                .then(|| format!("data: expected {want_hex}, got {}", protocol::to_hex(b)))
        }
        Elements::Strings(s) => {
            let want_s: Vec<&str> = want["strings"]
                .as_array()
                .map_or(vec![], |a| a.iter().map(|x| x.as_str().unwrap()).collect());
            (s[..] != want_s[..]).then(|| format!("strings: expected {want_s:?}, got {s:?}"))
        }
    }
}

fn check(v: &Json) -> Result<(), String> {
    let bytes = read_vector(v);
    let kind = v["kind"].as_str().unwrap();
    if v["verdict"] == "invalid" {
        let want = v["error"].as_str().unwrap();
        assert!(ErrorCode::from_name(want).is_some(), "unknown code {want}");
        let got = if kind == "tensor" {
            decode_tensor(&bytes).map(|_| ())
        } else {
            decode_bundle(&bytes).map(|_| ())
        };
        // SPEC.md §8.1: the code, at the vector's byte offset.
        let at = v["offset"]
            .as_u64()
            .expect("an invalid vector carries its offset");
        return match got {
            Err(e) if e.code.as_str() == want && e.offset as u64 == at => Ok(()),
            Err(e) if e.code.as_str() == want => Err(format!(
                "expected {want} at byte {at}, reported at {}",
                e.offset
            )),
            Err(e) => Err(format!("expected {want}, got {e}")),
            Ok(()) => Err(format!("expected {want}, accepted")),
        };
    }
    let exp = &v["expected"];
    if kind == "tensor" {
        let t = decode_tensor(&bytes).map_err(|e| format!("rejected a valid vector: {e}"))?;
        if let Some(d) = tensor_diff(exp, &t) {
            return Err(d);
        }
        // Zero-copy: the element bytes are a slice of the input at an aligned offset.
        if let Some(data) = t.data() {
            let off = data.as_ptr() as usize - bytes.as_ptr() as usize;
            if !off.is_multiple_of(t.dtype.align()) {
                return Err(format!("elements at misaligned offset {off}"));
            }
        }
    } else {
        let b = decode_bundle(&bytes).map_err(|e| format!("rejected a valid vector: {e}"))?;
        let got_meta = protocol::meta_json(&Value::Map(b.metadata.to_vec()));
        if !meta_equal(&exp["metadata"], &got_meta) {
            return Err(format!(
                "metadata: expected {}, got {got_meta}",
                exp["metadata"]
            ));
        }
        let want_t = exp["tensors"].as_array().unwrap();
        if want_t.len() != b.tensors.len() {
            return Err(format!(
                "expected {} tensors, got {}",
                want_t.len(),
                b.tensors.len()
            ));
        }
        for (w, (name, t)) in want_t.iter().zip(&b.tensors) {
            if w["name"].as_str() != Some(name) {
                return Err(format!("tensor name: expected {}, got {name:?}", w["name"]));
            }
            if let Some(d) = tensor_diff(w, t) {
                return Err(format!("tensor {name:?}: {d}"));
            }
        }
    }
    // The protocol's JSON form must agree too (the adapter prints it).
    let answer = protocol::decode_json(&bytes, kind);
    if answer.get("error").is_some() {
        return Err(format!("protocol decode failed: {answer}"));
    }
    if v["reencode_identical"] != true {
        return Err("core valid vector without reencode_identical".into());
    }
    let produced = protocol::encode_json(exp, kind)?;
    if produced != bytes {
        let i = produced
            .iter()
            .zip(&bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(produced.len().min(bytes.len()));
        return Err(format!(
            "encode: first difference at byte {i} (lengths: expected {}, got {})",
            bytes.len(),
            produced.len()
        ));
    }
    Ok(())
}

#[test]
fn core_conformance_suite() {
    let m = manifest();
    let vectors = core_vectors(&m);
    assert!(
        vectors.len() > 1000,
        "only {} core vectors found",
        vectors.len()
    );
    let mut failures = Vec::new();
    for v in &vectors {
        if let Err(msg) = check(v) {
            failures.push(format!("{}: {msg}", v["id"].as_str().unwrap()));
        }
    }
    let valid = vectors.iter().filter(|v| v["verdict"] == "valid").count();
    eprintln!(
        "core conformance: {}/{} vectors pass ({} valid decoded and re-encoded, {} invalid rejected with the expected code)",
        vectors.len() - failures.len(),
        vectors.len(),
        valid,
        vectors.len() - valid
    );
    assert!(
        failures.is_empty(),
        "{} failing vectors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `index_bundle` on every core bundle vector: with element checks it is `decode_bundle` plus B; without them
/// it differs only where the first failure is an element check, which `check_tensor_elements` then reports
/// with the same code and offset (a lazy reader's first access), unless a later structural error comes first.
#[test]
fn index_bundle_agrees_with_decode_bundle_on_every_bundle_vector() {
    let m = manifest();
    let mut bundles = 0;
    let mut deferred = 0;
    for v in core_vectors(&m)
        .into_iter()
        .filter(|v| v["kind"] == "bundle")
    {
        let id = v["id"].as_str().unwrap();
        let bytes = read_vector(v);
        bundles += 1;
        let whole = decode_bundle(&bytes);
        let eager = index_bundle(&bytes, true);
        match (&whole, &eager) {
            (Ok(b), Ok(i)) => {
                assert_eq!((&b.metadata, &b.tensors), (&i.metadata, &i.tensors), "{id}");
                assert!(
                    i.base % 8 == 0 && bytes[i.base] >> 5 == 4,
                    "{id}: B = {}",
                    i.base
                );
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{id}"),
            _ => panic!("{id}: decode_bundle {whole:?}, index_bundle {eager:?}"),
        }
        let lazy = index_bundle(&bytes, false);
        match (&whole, lazy) {
            (Err(e), Ok(i)) => {
                assert_eq!(e.code, ErrorCode::InvalidElement, "{id}: lazy accepted {e}");
                let first = i.tensors.iter().find_map(|(_, t)| {
                    let at = t
                        .data()
                        .map_or(0, |d| d.as_ptr() as usize - bytes.as_ptr() as usize);
                    check_tensor_elements(t, at).err()
                });
                assert_eq!(first.as_ref(), Some(e), "{id}");
                deferred += 1;
            }
            (Ok(_), Ok(_)) => {}
            // Deferring an element error lets a later structural error be the one reported.
            (Err(a), Err(b)) if a.code == ErrorCode::InvalidElement => {
                assert!(b.offset > a.offset, "{id}: {a} then {b}")
            }
            (Err(a), Err(b)) => assert_eq!(*a, b, "{id}"),
            (Ok(_), Err(b)) => panic!("{id}: lazy rejected a valid bundle: {b}"),
        }
    }
    // The suite has an element error alone in a bundle (deferred) and others followed by structural errors.
    assert!(
        bundles > 300 && deferred >= 1,
        "{bundles} bundles, {deferred} deferred"
    );
}

/// Every truncation and every single-bit flip of several valid vectors decodes to Ok or Err, never panics;
/// and whatever is accepted re-encodes to the same bytes (one encoding per value).
#[test]
fn truncations_and_bit_flips_never_panic() {
    let m = manifest();
    let mut picked: Vec<&Json> = core_vectors(&m)
        .into_iter()
        .filter(|v| v["verdict"] == "valid" && v["size"].as_u64().unwrap_or(u64::MAX) <= 512)
        .collect();
    // A spread of dtypes and both kinds: every 7th small valid vector plus all small bundles.
    picked = picked
        .iter()
        .enumerate()
        .filter(|(i, v)| i % 7 == 0 || v["kind"] == "bundle")
        .map(|(_, v)| *v)
        .collect();
    assert!(picked.len() >= 20, "only {} vectors picked", picked.len());
    let mut runs = 0usize;
    for v in picked {
        let bytes = read_vector(v);
        let kind = v["kind"].as_str().unwrap();
        let try_one = |input: &[u8]| {
            if kind == "tensor" {
                if let Ok(t) = decode_tensor(input) {
                    assert_eq!(tensorcbor::encode_view(&t).unwrap(), input, "{}", v["id"]);
                }
            } else if let Ok(b) = decode_bundle(input) {
                let out = tensorcbor::encode_bundle_with(&b.tensors, b.metadata).unwrap();
                assert_eq!(out, input, "{}", v["id"]);
            }
        };
        for cut in 0..bytes.len() {
            try_one(&bytes[..cut]);
            runs += 1;
        }
        let mut flipped = bytes.clone();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                flipped[i] ^= 1 << bit;
                try_one(&flipped);
                flipped[i] ^= 1 << bit;
                runs += 1;
            }
        }
    }
    eprintln!("{runs} mutated inputs decoded without panicking");
}
