"""The manifest's JSON form of decoded documents, and back: shared by the runner, the adapter and `check`.

Tensors are {"dtype", "shape", "data_hex"} (or "strings" for the string dtype),
with the element bytes exactly as on the wire; metadata values use the typed
form of conformance/README.md ({"int": "5"}, {"float": "0.25"}, {"bytes": "00ff"},
{"array": [...]}, {"map": [[key, value], ...]}; text, true, false, null as JSON).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import packing
from ..blocks import BlockArray
from ..bundle import decode_bundle, encode_bundle
from ..codec import decode, encode
from ..dtypes import BY_NAME, DType
from ..errors import DecodeError, TensorCBORError


def element_bytes(arr: np.ndarray | BlockArray, dt: DType) -> bytes:
    """Wire bytes of a decoded array: little endian, sub-byte types packed (SPEC.md §4.4), blocks as they are."""
    if isinstance(arr, BlockArray):
        return arr.data.tobytes()
    flat = np.ascontiguousarray(arr).reshape(-1)
    if dt.packed:
        return packing.pack(flat.view(np.uint8), dt.bits)
    if dt.kind == "bool":
        return flat.view(np.uint8).tobytes()
    return flat.astype(flat.dtype.newbyteorder("<")).tobytes()


def tensor_json(arr: np.ndarray | BlockArray, dt: DType) -> dict[str, Any]:
    out: dict[str, Any] = {"dtype": dt.name, "shape": list(arr.shape)}
    if dt.kind == "string":
        assert isinstance(arr, np.ndarray)
        out["strings"] = [str(s) for s in arr.reshape(-1).tolist()]
    else:
        out["data_hex"] = element_bytes(arr, dt).hex()
    return out


def meta_json(v: Any) -> Any:
    """Typed JSON of a decoded metadata value."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        if math.isnan(v):
            return {"float": "nan"}
        if math.isinf(v):
            return {"float": "inf" if v > 0 else "-inf"}
        if v == 0 and math.copysign(1.0, v) < 0:
            return {"float": "-0"}
        return {"float": repr(v)}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, list):
        return {"array": [meta_json(x) for x in v]}
    if isinstance(v, dict):
        return {"map": [[k, meta_json(x)] for k, x in v.items()]}
    raise TypeError(f"unexpected metadata value {v!r}")


_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "-0": -0.0}


def parse_float(s: str) -> float:
    """A typed-JSON float string: shortest round-trip decimal, or nan/inf/-inf/-0."""
    return _SPECIAL_FLOATS[s] if s in _SPECIAL_FLOATS else float(s)


def meta_value(j: Any) -> Any:
    """The Python metadata value of a typed JSON value (inverse of meta_json)."""
    if j is None or isinstance(j, (bool, str)):
        return j
    if isinstance(j, dict) and len(j) == 1:
        (tag, body), = j.items()
        if tag == "int":
            return int(body)
        if tag == "float":
            return parse_float(body)
        if tag == "bytes":
            return bytes.fromhex(body)
        if tag == "array":
            return [meta_value(x) for x in body]
        if tag == "map":
            return {k: meta_value(x) for k, x in body}
    raise ValueError(f"not a typed metadata value: {j!r}")


def decode_json(data: bytes, kind: str) -> dict[str, Any]:
    """What the Python codec decodes from `data`, in protocol form ({"error": CODE} on rejection)."""
    try:
        if kind == "tensor":
            arr = decode(data)
            if isinstance(arr, BlockArray):
                return {"kind": "tensor", **tensor_json(arr, BY_NAME[arr.dtype])}
            name = "string" if arr.dtype.kind in ("T", "U") else _dtype_of(arr)
            return {"kind": "tensor", **tensor_json(arr, BY_NAME[name])}
        bundle = decode_bundle(data)
        tensors = [{"name": n, **tensor_json(bundle[n], bundle.info(n).dtype)} for n in bundle]
        return {"kind": "bundle", "metadata": meta_json(bundle.metadata), "tensors": tensors}
    except DecodeError as exc:
        return {"error": exc.code, "offset": exc.offset, "message": str(exc)}


def _dtype_of(arr: np.ndarray) -> str:
    from ..dtypes import from_numpy

    found = from_numpy(arr.dtype)
    assert found is not None, arr.dtype
    return found.name


def tensor_array(t: dict[str, Any]) -> np.ndarray | BlockArray:
    """The numpy array (or `BlockArray`) described by a protocol/manifest tensor object."""
    dt = BY_NAME[t["dtype"]]
    shape = tuple(int(d) for d in t["shape"])
    if dt.block is not None:
        return BlockArray(dt.name, shape, bytes.fromhex(t["data_hex"]))
    if dt.kind == "string":
        return np.array(t["strings"], dtype=dt.np_dtype).reshape(shape)
    raw = np.frombuffer(bytes.fromhex(t["data_hex"]), np.uint8)
    n = math.prod(shape)
    if dt.packed:
        values, _ = packing.unpack(raw, dt.bits, n)
        return values.view(dt.np_dtype).reshape(shape)
    wire = dt.np_dtype.newbyteorder("<") if dt.bits > 8 else dt.np_dtype
    return np.frombuffer(raw.tobytes(), wire, count=n).reshape(shape)


def encode_json(value: dict[str, Any], kind: str) -> bytes:
    """Encode a manifest "expected" value with the Python codec."""
    if kind == "tensor":
        return encode(tensor_array(value))
    tensors = {t["name"]: tensor_array(t) for t in value["tensors"]}
    return encode_bundle(tensors, meta_value(value["metadata"]))


__all__ = ["decode_json", "encode_json", "meta_json", "meta_value", "tensor_json", "element_bytes",
           "TensorCBORError"]
