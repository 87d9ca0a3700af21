//! The stream conformance vectors (../../conformance/stream-v1) through both receivers, plus the
//! "rejected chunks change nothing" and "tensors as they complete" properties.
#![cfg(feature = "adapter")]

#[path = "../src/bin/tensorcbor-adapter/protocol.rs"]
#[allow(dead_code)]
mod protocol;

use serde_json::Value as Json;
use std::path::PathBuf;
use tensorcbor::stream::{Event, SequentialReceiver, StoringReceiver, StreamDecoder, VecStore};
use tensorcbor::{decode_tensor, Error, ErrorCode};

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/stream-v1")
}

fn manifest() -> Json {
    serde_json::from_slice(&std::fs::read(suite_dir().join("manifest.json")).unwrap()).unwrap()
}

/// The chunks of the vector called `id`.
fn vector_chunks(id: &str) -> Vec<Vec<u8>> {
    let m = manifest();
    let v = m["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id);
    chunks_of(
        v.unwrap_or_else(|| panic!("no vector {id}"))["file"]
            .as_str()
            .unwrap(),
    )
}

/// The chunks of a vector file: one CBOR array of byte strings, one element per chunk (D8).
fn chunks_of(file: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(suite_dir().join(file)).unwrap();
    assert_eq!(bytes[0] >> 5, 4, "{file}: not an array");
    let (count, mut at) = head_arg(&bytes);
    let mut out: Vec<Vec<u8>> = Vec::new();
    for _ in 0..count {
        assert_eq!(bytes[at] >> 5, 2, "{file}: a chunk is not a byte string");
        let (len, hl) = head_arg(&bytes[at..]);
        out.push(bytes[at + hl..at + hl + len as usize].to_vec());
        at += hl + len as usize;
    }
    assert_eq!(at, bytes.len(), "{file}: bytes after the array");
    out
}

fn head_arg(b: &[u8]) -> (u64, usize) {
    let ai = b[0] & 31;
    match ai {
        0..=23 => (ai as u64, 1),
        _ => {
            let size = 1usize << (ai - 24);
            (
                b[1..1 + size]
                    .iter()
                    .fold(0u64, |a, &x| (a << 8) | x as u64),
                1 + size,
            )
        }
    }
}

/// Receive `chunks` (all valid) with a sequential receiver and decode as they come: (chunk position,
/// name, element bytes) per tensor, and the peak buffered bytes.
#[allow(clippy::type_complexity)]
fn stream_decode(
    chunks: &[Vec<u8>],
    mut on_meta: impl FnMut(tensorcbor::Metadata<'_>),
) -> Result<(Vec<(usize, String, Vec<u8>)>, usize), Error> {
    let mut rx = SequentialReceiver::new(Some(tensorcbor::stream::sha256(&chunks[0])), None);
    let mut dec = StreamDecoder::new();
    let mut got = Vec::new();
    let mut peak = 0;
    for (i, c) in chunks.iter().enumerate() {
        if let Some(d) = rx.accept(c)? {
            let mut on = |e: Event<'_>| match e {
                Event::Metadata(m) => on_meta(m),
                Event::Tensor { name, tensor, .. } => {
                    got.push((i, name.to_string(), tensor.data().unwrap_or(&[]).to_vec()))
                }
            };
            dec.push(d.payload, rx.is_complete(), &mut on)?;
            peak = peak.max(dec.buffered());
        }
    }
    rx.finish()?;
    dec.finish()?;
    Ok((got, peak))
}

/// Every vector of the stream suite (per-chunk verdicts, the end, the document hash), through the adapter's
/// `stream_answer`, once per receiver kind the vector names.
#[test]
fn stream_vectors() {
    let m = manifest();
    let vectors = m["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 50);
    let mut failures = Vec::new();
    let mut runs = 0;
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let chunks = chunks_of(v["file"].as_str().unwrap());
        let kinds: &[&str] = match v["receiver"].as_str().unwrap() {
            "both" => &["sequential", "storing"],
            "sequential" => &["sequential"],
            _ => &["storing"],
        };
        for kind in kinds {
            let request = serde_json::json!({
                "receiver": kind, "expected_digest": v["expected_digest"], "quota": v["quota"],
                "chunks": chunks.iter().map(|c| protocol::to_hex(c)).collect::<Vec<_>>(),
            });
            let got = protocol::stream_answer(&request).unwrap();
            runs += 1;
            let same = got["verdicts"] == v["verdicts"]
                && got["offsets"] == v["offsets"]
                && got["end"] == v["end"]
                && (v["end"] != "ok" || got["document_sha256"] == v["document_sha256"]);
            if !same {
                failures.push(format!(
                    "{id}: {kind}: expected {} at {} / {}, got {} at {} / {}",
                    v["verdicts"],
                    v["offsets"],
                    v["end"],
                    got["verdicts"],
                    got["offsets"],
                    got["end"]
                ));
            }
        }
    }
    eprintln!(
        "stream suite: {} of {runs} receiver runs agree",
        runs - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_rejected_chunk_changes_nothing() {
    let chunks = vector_chunks("stream.tensor.128");
    assert!(chunks.len() >= 3);
    let mut rx = SequentialReceiver::new(None, None);
    let mut dec = StreamDecoder::new();
    let mut tensors = 0;
    let mut on = |e: Event<'_>| tensors += matches!(e, Event::Tensor { .. }) as usize;
    assert_eq!(rx.accept(&chunks[0]).unwrap(), None);
    // Altered, out of order, truncated: each rejected, and the stream then completes normally.
    let mut altered = chunks[1].clone();
    *altered.last_mut().unwrap() ^= 1;
    assert_eq!(
        rx.accept(&altered).unwrap_err().code,
        ErrorCode::ChunkDigestMismatch
    );
    assert_eq!(
        rx.accept(&chunks[2]).unwrap_err().code,
        ErrorCode::ChunkOutOfOrder
    );
    assert_eq!(
        rx.accept(&chunks[1][..10]).unwrap_err().code,
        ErrorCode::Truncated
    );
    for c in &chunks[1..] {
        let d = rx.accept(c).unwrap().unwrap();
        dec.push(d.payload, rx.is_complete(), &mut on).unwrap();
    }
    rx.finish().unwrap();
    dec.finish().unwrap();
    assert_eq!(tensors, 1);
    // Storing: any order, a duplicate rejected without effect.
    let mut rx = StoringReceiver::new(None, None, VecStore::default());
    rx.accept(&chunks[0]).unwrap();
    rx.accept(&chunks[2]).unwrap();
    assert_eq!(
        rx.accept(&chunks[2]).unwrap_err().code,
        ErrorCode::DuplicateChunk
    );
    assert_eq!(rx.finish().unwrap_err().code, ErrorCode::MissingChunk);
    rx.accept(&chunks[1]).unwrap();
    rx.finish().unwrap();
}

#[test]
fn a_sequential_receiver_resumes_after_an_upgrade() {
    let chunks = vector_chunks("stream.tensor.128");
    assert!(chunks.len() >= 3);
    let sid = tensorcbor::stream::sha256(&chunks[0]);
    let mut rx = SequentialReceiver::new(Some(sid), None).skip_document_hash_when_trusted(true);
    rx.accept(&chunks[0]).unwrap();
    let mut doc = rx.accept(&chunks[1]).unwrap().unwrap().payload.to_vec();
    // What a canister keeps in stable memory: the manifest chunk and two counters.
    let (received, bytes) = (rx.received(), rx.bytes());
    assert_eq!((received, bytes), (1, doc.len() as u64));
    let mut resumed = SequentialReceiver::resume(sid, None, &chunks[0], received, bytes).unwrap();
    assert_eq!(
        resumed.accept(&chunks[1]).unwrap_err().code,
        ErrorCode::DuplicateChunk
    );
    assert_eq!(resumed.finish().unwrap_err().code, ErrorCode::MissingChunk);
    for c in &chunks[2..] {
        doc.extend_from_slice(resumed.accept(c).unwrap().unwrap().payload);
    }
    resumed.finish().unwrap();
    assert_eq!(resumed.bytes(), doc.len() as u64);
    decode_tensor(&doc).unwrap();
    // Counts no stream of this manifest can have, and a manifest that is not the trusted one.
    let n = chunks.len() as u32 - 1;
    let code = |r: Result<SequentialReceiver, Error>| r.unwrap_err().code;
    assert_eq!(
        code(SequentialReceiver::resume(
            sid,
            None,
            &chunks[0],
            n + 1,
            bytes
        )),
        ErrorCode::ChunkOutOfRange
    );
    assert_eq!(
        code(SequentialReceiver::resume(sid, None, &chunks[0], 1, 0)),
        ErrorCode::StreamLengthMismatch
    );
    assert_eq!(
        code(SequentialReceiver::resume(sid, None, &chunks[1], 0, 0)),
        ErrorCode::StreamDigestMismatch
    );
}

#[test]
fn a_trusted_stream_may_skip_the_document_hash() {
    let chunks = vector_chunks("stream.tensor.128");
    let sid = tensorcbor::stream::sha256(&chunks[0]);
    // The manifest below is the trusted one; its document digest is not checked when E2 is skipped.
    let mut rx = SequentialReceiver::new(Some(sid), None).skip_document_hash_when_trusted(true);
    for c in &chunks {
        rx.accept(c).unwrap();
    }
    rx.finish().unwrap();
    // Without a trusted digest the skip does not apply: E2 runs (and passes on this valid stream).
    let mut rx = SequentialReceiver::new(None, None).skip_document_hash_when_trusted(true);
    for c in &chunks {
        rx.accept(c).unwrap();
    }
    rx.finish().unwrap();
}

#[test]
fn quota_is_checked_after_the_manifest() {
    let chunks = vector_chunks("stream.tensor.128");
    let mut rx = SequentialReceiver::new(None, Some(10));
    let e = rx.accept(&chunks[0]).unwrap_err();
    assert_eq!(e.code, ErrorCode::QuotaExceeded);
    assert!(rx.manifest().is_none());
}

/// Cut `doc` into a stream at `max_size` (plain cut at the payload capacity: receivers do not depend on
/// the header rule of §10.3); returns the chunks, manifest first.
fn cut(doc: &[u8], max_size: u64) -> Vec<Vec<u8>> {
    use tensorcbor::stream::sha256;
    let cap = (max_size - 52) as usize;
    let payloads: Vec<&[u8]> = doc.chunks(cap).collect();
    let bstr = |out: &mut Vec<u8>, b: &[u8]| {
        head(out, 2, b.len() as u64);
        out.extend_from_slice(b);
    };
    let mut m = vec![0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x73, 0x85, 0x01];
    head(&mut m, 0, doc.len() as u64);
    head(&mut m, 0, max_size);
    bstr(&mut m, &sha256(doc));
    let digests: Vec<u8> = payloads.iter().flat_map(|p| sha256(p)).collect();
    bstr(&mut m, &digests);
    let sid = sha256(&m);
    let mut out = vec![m];
    for (i, p) in payloads.iter().enumerate() {
        let mut c = vec![0xd9, 0xd9, 0xf7, 0xd9, 0xcb, 0x73, 0x84, 0x01];
        bstr(&mut c, &sid);
        head(&mut c, 0, i as u64 + 1);
        bstr(&mut c, p);
        out.push(c);
    }
    out
}

fn head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let mt = major << 5;
    match arg {
        0..=23 => out.push(mt | arg as u8),
        24..=0xff => out.extend_from_slice(&[mt | 24, arg as u8]),
        0x100..=0xffff => {
            out.push(mt | 25);
            out.extend_from_slice(&(arg as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(mt | 26);
            out.extend_from_slice(&(arg as u32).to_be_bytes());
        }
        _ => {
            out.push(mt | 27);
            out.extend_from_slice(&arg.to_be_bytes());
        }
    }
}

#[test]
fn a_bundle_streams_tensor_by_tensor() {
    use tensorcbor::{decode_bundle, encode_bundle, DType, TensorView, Value};
    let big: Vec<u8> = (0..4000u32)
        .flat_map(|i| (i as f32).to_le_bytes())
        .collect();
    let small: Vec<u8> = (0..10i64).flat_map(|i| i.to_le_bytes()).collect();
    let bools = [1u8, 0, 1];
    let tensors = vec![
        ("a.big", TensorView::new(DType::Float32, &[40, 100], &big)),
        ("b.small", TensorView::new(DType::Int64, &[10], &small)),
        ("c.labels", TensorView::strings(&[2], vec!["cat", "dög"])),
        ("d.mask", TensorView::new(DType::Bool, &[3], &bools)),
        ("e.empty", TensorView::new(DType::Float64, &[0, 5], &[])),
    ];
    let doc = encode_bundle(&tensors, &[("model", Value::Text("t"))]).unwrap();
    let whole = decode_bundle(&doc).unwrap();
    for max_size in [800u64, 1000, 5000, 100_000] {
        let chunks = cut(&doc, max_size);
        let mut metadata = 0;
        let (got, peak) = stream_decode(&chunks, |m| {
            assert_eq!(m.get("model"), Some(Value::Text("t")));
            metadata += 1;
        })
        .unwrap();
        for (_, name, data) in &got {
            assert_eq!(
                whole.tensor(name).unwrap().data().unwrap_or(&[]),
                &data[..],
                "{name}"
            );
        }
        assert_eq!(metadata, 1);
        let names: Vec<&str> = got.iter().map(|(_, n, _)| n.as_str()).collect();
        let wire: Vec<&str> = whole.tensors.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, wire, "max_size {max_size}");
        assert_eq!(wire, ["a.big", "d.mask", "b.small", "e.empty", "c.labels"]); // sorted by encoding
                                                                                 // Handed out as they complete: each tensor in the chunk holding its last byte.
        let cap = (max_size - 52) as usize;
        for (i, name, data) in &got {
            if !data.is_empty() {
                let end = doc
                    .windows(data.len())
                    .position(|w| w == &data[..])
                    .unwrap()
                    + data.len();
                assert_eq!(*i, end.div_ceil(cap), "{name} at max_size {max_size}");
            }
        }
        // Memory: at most the largest item (16,000 bytes of a.big) plus a payload plus the prefix.
        assert!(
            peak <= 16_100 + cap + 200,
            "buffered {peak} at max_size {max_size}"
        );
        // The storing receiver, chunks in reverse order.
        let mut st = StoringReceiver::new(None, None, VecStore::default());
        st.accept(&chunks[0]).unwrap();
        for c in chunks[1..].iter().rev() {
            st.accept(c).unwrap();
        }
        st.finish().unwrap();
        assert_eq!(st.store().document(), doc);
        // An upgrade in the middle: resume from the manifest chunk and the stored payloads.
        let mut half = StoringReceiver::new(None, None, VecStore::default());
        half.accept(&chunks[0]).unwrap();
        let n = chunks.len() - 1;
        let stored: Vec<u32> = (1..=n as u32).filter(|i| i % 2 == 0).collect();
        for &i in &stored {
            half.accept(&chunks[i as usize]).unwrap();
        }
        let store = half.store().clone();
        let mut resumed =
            StoringReceiver::resume(None, None, &chunks[0], store, stored.clone()).unwrap();
        if let Some(&i) = stored.first() {
            assert_eq!(
                resumed.accept(&chunks[i as usize]).unwrap_err().code,
                ErrorCode::DuplicateChunk
            );
        }
        for i in (1..=n as u32).filter(|i| i % 2 == 1) {
            resumed.accept(&chunks[i as usize]).unwrap();
        }
        resumed.finish().unwrap();
        assert_eq!(resumed.store().document(), doc);
    }
}

#[test]
fn document_errors_are_reported_as_soon_as_their_bytes_arrive() {
    use tensorcbor::{encode_tensor, DType};
    let data: Vec<u8> = vec![0u8; 3000];
    let mut doc = encode_tensor(DType::Uint8, &[3000], &data).unwrap();
    doc[6] = 0x86; // array of 6 after the version: UNEXPECTED_TYPE in the first chunk
    let chunks = cut(&doc, 600);
    let e = stream_decode(&chunks, |_| {}).unwrap_err();
    assert_eq!((e.code, e.offset), (ErrorCode::UnexpectedType, 6));
    // A bool tensor with a bad element: INVALID_ELEMENT when the tensor completes.
    let mut doc = encode_tensor(DType::Bool, &[500], &[1u8; 500]).unwrap();
    let n = doc.len();
    doc[n - 1] = 2;
    let chunks = cut(&doc, 300);
    let mut rx = SequentialReceiver::new(None, None);
    let mut dec = StreamDecoder::new();
    let last = chunks.len() - 1;
    for (i, c) in chunks.iter().enumerate() {
        let Some(d) = rx.accept(c).unwrap() else {
            continue;
        };
        let r = dec.push(d.payload, rx.is_complete(), &mut |_| {});
        if i == last {
            assert_eq!(r.unwrap_err().code, ErrorCode::InvalidElement);
        } else {
            r.unwrap();
        }
    }
    rx.finish().unwrap();
    assert_eq!(dec.finish().unwrap_err().code, ErrorCode::InvalidElement);
    // A document cut short: TRUNCATED once the last payload is in.
    let doc = encode_tensor(DType::Uint8, &[3000], &data).unwrap();
    let chunks = cut(&doc[..2000], 600);
    let e = stream_decode(&chunks, |_| {}).unwrap_err();
    assert_eq!(e.code, ErrorCode::Truncated);
}

/// The incremental decoder reports exactly what the whole-buffer decoder reports (design D5: one order of
/// checks), whatever the payload sizes, on every truncation and many bit flips of a bundle and a tensor
/// document; and never panics.
#[test]
fn stream_decoder_agrees_with_the_whole_buffer_decoder() {
    use tensorcbor::{
        decode_bundle, decode_tensor, encode_bundle, encode_tensor, DType, TensorView, Value,
    };
    let w: Vec<u8> = (0..24u32).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let bools = [1u8, 0, 1, 1, 0];
    let nibbles = [0x21u8, 0x03];
    let bundle = encode_bundle(
        &[
            ("w", TensorView::new(DType::Float32, &[4, 6], &w)),
            ("m", TensorView::new(DType::Bool, &[5], &bools)),
            ("s", TensorView::strings(&[2], vec!["ab", "c"])),
            ("q", TensorView::new(DType::Int4, &[3], &nibbles)),
        ],
        &[("k", Value::Array(vec![Value::Float(1.5), Value::Null]))],
    )
    .unwrap();
    let tensor = encode_tensor(DType::Float64, &[3], &[0u8; 24]).unwrap();
    let whole = |doc: &[u8]| -> Result<usize, ErrorCode> {
        if doc.get(5) == Some(&0x62) {
            decode_bundle(doc)
                .map(|b| b.tensors.len())
                .map_err(|e| e.code)
        } else {
            decode_tensor(doc).map(|_| 1).map_err(|e| e.code)
        }
    };
    let incremental = |doc: &[u8], piece: usize| -> Result<usize, ErrorCode> {
        let mut dec = StreamDecoder::new();
        let mut n = 0;
        let pieces: Vec<&[u8]> = doc.chunks(piece.max(1)).collect();
        for (i, p) in pieces.iter().enumerate() {
            dec.push(p, i + 1 == pieces.len(), &mut |e| {
                n += matches!(e, Event::Tensor { .. }) as usize
            })
            .map_err(|e| e.code)?;
        }
        dec.finish().map_err(|e| e.code)?;
        Ok(n)
    };
    let mut checked = 0;
    for doc in [&bundle, &tensor] {
        let mut inputs: Vec<Vec<u8>> = (1..doc.len()).map(|cut| doc[..cut].to_vec()).collect();
        for i in 0..doc.len() {
            for bit in [0, 3, 7] {
                let mut d = doc.to_vec();
                d[i] ^= 1 << bit;
                inputs.push(d);
            }
        }
        let mut longer = doc.to_vec();
        longer.push(0);
        inputs.push(longer);
        inputs.push(doc.to_vec());
        for input in &inputs {
            let want = whole(input);
            for piece in [1, 5, 8, 64, input.len()] {
                let got = incremental(input, piece);
                assert_eq!(
                    got,
                    want,
                    "piece {piece}, input {}",
                    protocol::to_hex(input)
                );
                checked += 1;
            }
        }
    }
    eprintln!("{checked} incremental decodes agree with the whole-buffer decoder");
}
