//! The stream conformance vectors (../../conformance/stream-v1) through both receivers, plus the
//! "rejected chunks change nothing" and "tensors as they complete" properties.
#![cfg(feature = "stream")]

use serde_json::Value as Json;
use std::path::PathBuf;
use tensorcbor::stream::{
    Event, SequentialReceiver, StoringReceiver, VecStore,
};
use tensorcbor::{Error, ErrorCode};

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/stream-v1")
}

/// Length of the CBOR item at the start of `b` (definite lengths only; enough for chunk files).
fn item_len(b: &[u8]) -> usize {
    let ib = b[0];
    let (major, ai) = (ib >> 5, ib & 31);
    let (arg, mut n) = match ai {
        0..=23 => (ai as u64, 1),
        24..=27 => {
            let size = 1usize << (ai - 24);
            (b[1..1 + size].iter().fold(0u64, |a, &x| (a << 8) | x as u64), 1 + size)
        }
        _ => panic!("unsupported head {ib:#x}"),
    };
    match major {
        2 | 3 => n + arg as usize,
        4 => {
            for _ in 0..arg {
                n += item_len(&b[n..]);
            }
            n
        }
        5 => {
            for _ in 0..2 * arg {
                n += item_len(&b[n..]);
            }
            n
        }
        6 => n + item_len(&b[n..]),
        _ => n,
    }
}

fn item_len_clamped(b: &[u8]) -> usize {
    std::panic::catch_unwind(|| item_len(b)).map_or(b.len(), |n| n.min(b.len()))
}

/// The chunks of a vector file: a CBOR sequence of chunks (`.cbors`) or one array of byte strings (`.cbor`).
fn chunks_of(file: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(suite_dir().join(file)).unwrap();
    let mut out: Vec<Vec<u8>> = Vec::new();
    if file.ends_with(".cbors") {
        // The old form cannot frame a cut-short last chunk or a byte after a chunk: the last item runs to
        // the end of the file, and an item that is not a chunk belongs to the one before (D8 replaced it).
        let mut at = 0;
        while at < bytes.len() {
            let n = item_len_clamped(&bytes[at..]);
            let item = bytes[at..at + n].to_vec();
            match out.last_mut() {
                Some(prev) if !item.starts_with(&[0xd9, 0xd9, 0xf7]) => prev.extend(item),
                _ => out.push(item),
            }
            at += n;
        }
    } else {
        let mut at = item_len(&bytes[..1]).min(1);
        let (_, hl) = head_arg(&bytes);
        at = at.max(hl);
        while at < bytes.len() {
            let (len, hl) = head_arg(&bytes[at..]);
            out.push(bytes[at + hl..at + hl + len as usize].to_vec());
            at += hl + len as usize;
        }
    }
    out
}

fn head_arg(b: &[u8]) -> (u64, usize) {
    let ai = b[0] & 31;
    match ai {
        0..=23 => (ai as u64, 1),
        _ => {
            let size = 1usize << (ai - 24);
            (b[1..1 + size].iter().fold(0u64, |a, &x| (a << 8) | x as u64), 1 + size)
        }
    }
}

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for i in 0..32 {
        out[i] = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Feed a whole stream; Ok(tensor names handed out) or Err((chunk position or None for the end, error)).
fn run_sequential(
    chunks: &[Vec<u8>],
    expected: Option<[u8; 32]>,
) -> Result<Vec<String>, (Option<usize>, Error)> {
    let mut rx = SequentialReceiver::new(expected, None);
    let mut names = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let mut on = |e: Event<'_>| {
            if let Event::Tensor { name, .. } = e {
                names.push(name.to_string());
            }
        };
        rx.accept(c, &mut on).map_err(|e| (Some(i), e))?;
    }
    rx.finish().map_err(|e| (None, e))?;
    Ok(names)
}

fn run_storing(chunks: &[Vec<u8>], expected: Option<[u8; 32]>) -> Result<Vec<u8>, (Option<usize>, Error)> {
    let mut rx = StoringReceiver::new(expected, None, VecStore::default());
    for (i, c) in chunks.iter().enumerate() {
        rx.accept(c).map_err(|e| (Some(i), e))?;
    }
    rx.finish().map_err(|e| (None, e))?;
    Ok(rx.store().document())
}

#[test]
fn stream_vectors() {
    let m: Json = serde_json::from_slice(&std::fs::read(suite_dir().join("manifest.json")).unwrap()).unwrap();
    let vectors = m["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 20);
    let mut failures = Vec::new();
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let chunks = chunks_of(v["file"].as_str().unwrap());
        let expected = v["expected_digest"].as_str().map(hex32);
        let receivers = v["receiver"].as_str().unwrap_or("both");
        let mut outcomes = Vec::new();
        if receivers != "storing" {
            outcomes.push(("sequential", run_sequential(&chunks, expected).map(|_| ())));
        }
        if receivers != "sequential" {
            let got = run_storing(&chunks, expected);
            if let (Ok(doc), Some(sha)) = (&got, v["document_sha256"].as_str()) {
                if tensorcbor::stream::sha256(doc) != hex32(sha) {
                    failures.push(format!("{id}: storing: wrong document"));
                }
            }
            outcomes.push(("storing", got.map(|_| ())));
        }
        for (who, got) in outcomes {
            match (v["verdict"].as_str().unwrap(), got) {
                ("valid", Ok(())) => {}
                ("valid", Err((at, e))) => failures.push(format!("{id}: {who}: rejected at chunk {at:?}: {e}")),
                (_, Ok(())) => failures.push(format!("{id}: {who}: accepted")),
                (_, Err((at, e))) => {
                    let want = v["error"].as_str().unwrap();
                    let want_at = v["error_chunk"].as_u64().map(|x| x as usize);
                    if e.code.as_str() != want || at != want_at {
                        failures.push(format!("{id}: {who}: expected {want} at {want_at:?}, got {e} at {at:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_rejected_chunk_changes_nothing() {
    let m: Json = serde_json::from_slice(&std::fs::read(suite_dir().join("manifest.json")).unwrap()).unwrap();
    let v = m["vectors"].as_array().unwrap().iter().find(|v| v["id"] == "stream.tensor.128").unwrap();
    let chunks = chunks_of(v["file"].as_str().unwrap());
    assert!(chunks.len() >= 3);
    let mut rx = SequentialReceiver::new(None, None);
    let mut tensors = 0;
    let mut on = |e: Event<'_>| tensors += matches!(e, Event::Tensor { .. }) as usize;
    rx.accept(&chunks[0], &mut on).unwrap();
    // Altered, out of order, truncated: each rejected, and the stream then completes normally.
    let mut altered = chunks[1].clone();
    *altered.last_mut().unwrap() ^= 1;
    assert_eq!(rx.accept(&altered, &mut on).unwrap_err().code, ErrorCode::ChunkDigestMismatch);
    assert_eq!(rx.accept(&chunks[2], &mut on).unwrap_err().code, ErrorCode::ChunkOutOfOrder);
    assert_eq!(rx.accept(&chunks[1][..10], &mut on).unwrap_err().code, ErrorCode::Truncated);
    for c in &chunks[1..] {
        rx.accept(c, &mut on).unwrap();
    }
    rx.finish().unwrap();
    assert_eq!(tensors, 1);
    // Storing: any order, a duplicate rejected without effect.
    let mut rx = StoringReceiver::new(None, None, VecStore::default());
    rx.accept(&chunks[0]).unwrap();
    rx.accept(&chunks[2]).unwrap();
    assert_eq!(rx.accept(&chunks[2]).unwrap_err().code, ErrorCode::DuplicateChunk);
    assert_eq!(rx.finish().unwrap_err().code, ErrorCode::MissingChunk);
    rx.accept(&chunks[1]).unwrap();
    rx.finish().unwrap();
}

#[test]
fn quota_is_checked_after_the_manifest() {
    let m: Json = serde_json::from_slice(&std::fs::read(suite_dir().join("manifest.json")).unwrap()).unwrap();
    let v = m["vectors"].as_array().unwrap().iter().find(|v| v["id"] == "stream.tensor.128").unwrap();
    let chunks = chunks_of(v["file"].as_str().unwrap());
    let mut rx = SequentialReceiver::new(None, Some(10));
    let e = rx.accept(&chunks[0], &mut |_| {}).unwrap_err();
    assert_eq!(e.code, ErrorCode::QuotaExceeded);
    assert!(rx.manifest().is_none());
}
