//! The JSON forms of the conformance protocol (conformance/README.md), mirroring
//! `src/tensorcbor/conformance/values.py`: decoded documents to JSON, manifest `expected` values to bytes.
//!
//! Shared by the adapter binary and `tests/conformance.rs`.

use serde_json::{json, Map, Value as Json};
use tensorcbor::{
    decode_bundle, decode_tensor, encode_bundle, encode_view, DType, Elements, Error, TensorView,
    Value,
};

pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub fn from_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd-length hex string ({} digits)", s.len()));
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(format!("not a hex digit: {:?}", c as char)),
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// A float as the typed JSON's decimal string: shortest round-trip, or nan / inf / -inf / -0.
pub fn float_string(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else if x == 0.0 && x.is_sign_negative() {
        "-0".into()
    } else {
        format!("{x:?}")
    }
}

pub fn parse_float(s: &str) -> Result<f64, String> {
    match s {
        "nan" => Ok(f64::NAN),
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "-0" => Ok(-0.0),
        _ => s
            .parse::<f64>()
            .map_err(|e| format!("bad float {s:?}: {e}")),
    }
}

/// The typed JSON of a metadata value.
pub fn meta_json(v: &Value<'_>) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Text(s) => Json::String((*s).into()),
        Value::Int(i) => json!({ "int": i.to_string() }),
        Value::Float(x) => json!({ "float": float_string(*x) }),
        Value::Bytes(b) => json!({ "bytes": to_hex(b) }),
        Value::Array(items) => json!({ "array": items.iter().map(meta_json).collect::<Vec<_>>() }),
        Value::Map(entries) => json!({
            "map": entries.iter().map(|(k, v)| json!([k, meta_json(v)])).collect::<Vec<_>>()
        }),
    }
}

fn tensor_json(t: &TensorView<'_>, out: &mut Map<String, Json>) {
    out.insert("dtype".into(), json!(t.dtype.name()));
    out.insert("shape".into(), json!(t.shape));
    match &t.elements {
        Elements::Bytes(b) => out.insert("data_hex".into(), json!(to_hex(b))),
        Elements::Strings(s) => out.insert("strings".into(), json!(s)),
    };
}

fn error_json(e: Error) -> Json {
    json!({ "error": e.code.as_str(), "offset": e.offset, "message": e.to_string() })
}

/// What the Rust decoder makes of `data`, in protocol form (`{"error": CODE, ...}` on rejection).
pub fn decode_json(data: &[u8], kind: &str) -> Json {
    if kind == "tensor" {
        return match decode_tensor(data) {
            Ok(t) => {
                let mut m = Map::new();
                m.insert("kind".into(), json!("tensor"));
                tensor_json(&t, &mut m);
                Json::Object(m)
            }
            Err(e) => error_json(e),
        };
    }
    match decode_bundle(data) {
        Ok(b) => {
            let tensors: Vec<Json> = b
                .tensors
                .iter()
                .map(|(name, t)| {
                    let mut m = Map::new();
                    m.insert("name".into(), json!(name));
                    tensor_json(t, &mut m);
                    Json::Object(m)
                })
                .collect();
            let metadata = meta_json(&Value::Map(b.metadata.to_vec()));
            json!({ "kind": "bundle", "metadata": metadata, "tensors": tensors })
        }
        Err(e) => error_json(e),
    }
}

fn field<'j>(j: &'j Json, key: &str) -> Result<&'j Json, String> {
    j.get(key).ok_or_else(|| format!("missing field {key:?}"))
}

fn text<'j>(j: &'j Json, what: &str) -> Result<&'j str, String> {
    j.as_str().ok_or_else(|| format!("{what} is not a string"))
}

/// Hex-decoded byte strings of a typed metadata value, in traversal order (they must outlive the Value).
fn collect_bytes(j: &Json, arena: &mut Vec<Vec<u8>>) -> Result<(), String> {
    if let Some(obj) = j.as_object() {
        if let Some(b) = obj.get("bytes") {
            arena.push(from_hex(text(b, "bytes")?)?);
        } else if let Some(items) = obj.get("array").and_then(Json::as_array) {
            for x in items {
                collect_bytes(x, arena)?;
            }
        } else if let Some(entries) = obj.get("map").and_then(Json::as_array) {
            for e in entries {
                collect_bytes(e.get(1).ok_or("map entry without a value")?, arena)?;
            }
        }
    }
    Ok(())
}

/// The metadata value of a typed JSON value (the inverse of `meta_json`).
fn meta_value<'j>(
    j: &'j Json,
    arena: &'j [Vec<u8>],
    next: &mut usize,
) -> Result<Value<'j>, String> {
    Ok(match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::String(s) => Value::Text(s),
        Json::Object(obj) if obj.len() == 1 => {
            let (tag, body) = obj.iter().next().ok_or("empty object")?;
            match tag.as_str() {
                "int" => Value::Int(
                    text(body, "int")?
                        .parse::<i128>()
                        .map_err(|e| format!("bad int: {e}"))?,
                ),
                "float" => Value::Float(parse_float(text(body, "float")?)?),
                "bytes" => {
                    let b = arena.get(*next).ok_or("bytes arena out of step")?;
                    *next += 1;
                    Value::Bytes(b)
                }
                "array" => Value::Array(
                    body.as_array()
                        .ok_or("array is not a list")?
                        .iter()
                        .map(|x| meta_value(x, arena, next))
                        .collect::<Result<_, _>>()?,
                ),
                "map" => Value::Map(
                    body.as_array()
                        .ok_or("map is not a list")?
                        .iter()
                        .map(|e| {
                            let k = text(e.get(0).ok_or("map entry without a key")?, "map key")?;
                            let v = e.get(1).ok_or("map entry without a value")?;
                            Ok((k, meta_value(v, arena, next)?))
                        })
                        .collect::<Result<_, String>>()?,
                ),
                other => return Err(format!("unknown typed value {other:?}")),
            }
        }
        other => return Err(format!("not a typed metadata value: {other}")),
    })
}

/// Element bytes (owned) of a protocol tensor object; `None` for strings.
fn tensor_bytes(t: &Json) -> Result<Option<Vec<u8>>, String> {
    match t.get("data_hex") {
        Some(h) => Ok(Some(from_hex(text(h, "data_hex")?)?)),
        None => Ok(None),
    }
}

fn tensor_view<'j>(t: &'j Json, bytes: Option<&'j [u8]>) -> Result<TensorView<'j>, String> {
    let name = text(field(t, "dtype")?, "dtype")?;
    let dtype = DType::from_name(name).ok_or_else(|| format!("unknown dtype {name:?}"))?;
    let shape: Vec<u64> = field(t, "shape")?
        .as_array()
        .ok_or("shape is not a list")?
        .iter()
        .map(|d| d.as_u64().ok_or("a dimension is not a u64"))
        .collect::<Result<_, _>>()?;
    let elements = match bytes {
        Some(b) => Elements::Bytes(b),
        None => Elements::Strings(
            field(t, "strings")?
                .as_array()
                .ok_or("strings is not a list")?
                .iter()
                .map(|s| text(s, "a string element"))
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(TensorView {
        dtype,
        shape,
        elements,
    })
}

/// Encode a manifest `expected` value (or a protocol `value`) with the Rust encoder.
pub fn encode_json(value: &Json, kind: &str) -> Result<Vec<u8>, String> {
    let err = |e: Error| format!("encoder error {e}");
    if kind == "tensor" {
        let bytes = tensor_bytes(value)?;
        return encode_view(&tensor_view(value, bytes.as_deref())?).map_err(err);
    }
    let tensors_json = field(value, "tensors")?
        .as_array()
        .ok_or("tensors is not a list")?;
    let owned: Vec<Option<Vec<u8>>> = tensors_json
        .iter()
        .map(tensor_bytes)
        .collect::<Result<_, _>>()?;
    let mut tensors = Vec::with_capacity(tensors_json.len());
    for (t, b) in tensors_json.iter().zip(&owned) {
        let name = text(field(t, "name")?, "name")?;
        tensors.push((name, tensor_view(t, b.as_deref())?));
    }
    let meta = field(value, "metadata")?;
    let mut arena = Vec::new();
    collect_bytes(meta, &mut arena)?;
    let metadata = match meta_value(meta, &arena, &mut 0)? {
        Value::Map(entries) => entries,
        _ => return Err("metadata is not a map".into()),
    };
    encode_bundle(&tensors, &metadata).map_err(err)
}

/// One batch request -> one answer, with the request's id.
pub fn answer(request: &Json) -> Json {
    let id = request.get("id").cloned().unwrap_or(Json::Null);
    let result = (|| -> Result<Json, String> {
        let op = text(field(request, "op")?, "op")?;
        if op == "stream" {
            return stream_answer(request);
        }
        let kind = text(field(request, "kind")?, "kind")?;
        match op {
            "decode" => Ok(decode_json(
                &from_hex(text(field(request, "hex")?, "hex")?)?,
                kind,
            )),
            "encode" => Ok(json!({ "hex": to_hex(&encode_json(field(request, "value")?, kind)?) })),
            op => Ok(json!({ "error": format!("unknown op {op:?}") })),
        }
    })();
    let mut out = Map::new();
    out.insert("id".into(), id);
    match result {
        Ok(Json::Object(m)) => out.extend(m),
        Ok(other) => {
            out.insert("value".into(), other);
        }
        Err(message) => {
            out.insert("error".into(), json!("ADAPTER_ERROR"));
            out.insert("message".into(), json!(message));
        }
    }
    Json::Object(out)
}

fn digest32(j: &Json) -> Result<Option<[u8; 32]>, String> {
    match j {
        Json::Null => Ok(None),
        Json::String(h) => from_hex(h)?
            .try_into()
            .map(Some)
            .map_err(|_| "expected_digest is not 32 bytes".to_string()),
        _ => Err("expected_digest is not a hex string or null".into()),
    }
}

/// A stream request (conformance/README.md, "Stream adapter protocol"): a fresh receiver of the requested
/// kind gets every chunk in order (a rejected chunk changes nothing), then the end of the stream.
pub fn stream_answer(request: &Json) -> Result<Json, String> {
    use tensorcbor::stream::{sha256, SequentialReceiver, StoringReceiver, VecStore};
    let expected = digest32(request.get("expected_digest").unwrap_or(&Json::Null))?;
    let quota = match request.get("quota") {
        None | Some(Json::Null) => None,
        Some(q) => Some(
            q.as_u64()
                .ok_or("quota is not an unsigned 64-bit integer")?,
        ),
    };
    let chunks: Vec<Vec<u8>> = field(request, "chunks")?
        .as_array()
        .ok_or("chunks is not a list")?
        .iter()
        .map(|c| from_hex(text(c, "a chunk")?))
        .collect::<Result<_, _>>()?;
    let verdict = |r: Result<(), Error>| r.map_or_else(|e| e.code.as_str(), |()| "ok");
    // Each chunk's verdict and, for a rejection, its byte offset in the chunk (SPEC.md §8.1).
    let judged = |r: Result<(), Error>| match r {
        Ok(()) => ("ok", None),
        Err(e) => (e.code.as_str(), Some(e.offset)),
    };
    let mut verdicts = Vec::with_capacity(chunks.len());
    let mut offsets = Vec::with_capacity(chunks.len());
    let (end, document) = match text(field(request, "receiver")?, "receiver")? {
        "sequential" => {
            let mut rx = SequentialReceiver::new(expected, quota);
            let mut doc = Vec::new();
            for c in &chunks {
                let r = rx.accept(c).map(|d| {
                    if let Some(d) = d {
                        doc.extend_from_slice(d.payload);
                    }
                });
                let (v, o) = judged(r);
                verdicts.push(v);
                offsets.push(o);
            }
            (verdict(rx.finish()), doc)
        }
        "storing" => {
            let mut rx = StoringReceiver::new(expected, quota, VecStore::default());
            for c in &chunks {
                let (v, o) = judged(rx.accept(c).map(|_| ()));
                verdicts.push(v);
                offsets.push(o);
            }
            (verdict(rx.finish()), rx.store().document())
        }
        other => return Err(format!("unknown receiver {other:?}")),
    };
    let sha = (end == "ok").then(|| to_hex(&sha256(&document)));
    Ok(json!({ "verdicts": verdicts, "offsets": offsets, "end": end, "document_sha256": sha }))
}
