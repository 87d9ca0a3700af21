"""ONNX TensorProto and model initializers ⇄ tensors (``pip install tensorcbor[onnx]``).

tensorcbor's dtype codes are ONNX DataType numbers and its wire payload is ONNX
``raw_data`` (little-endian, sub-byte types packed low bits first), so raw and
external data are read as views and written as one copy. The typed fields
(float_data, int32_data, ...) follow ONNX's storage rules, which
``onnx.numpy_helper.to_array`` implements; we check their lengths first so a
malformed proto fails with a DecodeError instead of a numpy error.

Bundle metadata for a model's initializers (reversible)::

    {"onnx": {"initializers": [names in graph order],
              "doc_strings": {name: doc_string},          # only non-empty ones
              "metadata_props": {name: {key: value}}}}    # only tensors that have some

A single TensorProto read as a bundle keeps its doc_string the same way.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import packing
from ..dtypes import BY_CODE, DType
from ..errors import DecodeError, EncodeError, FileError
from ..files import check_companions, open_regular, write_bytes, write_with
from ..tensor import MAX_ELEMENTS, MAX_RANK, prepare
from ._common import Tensors, check_name, require

__all__ = ["to_array", "from_array", "load_tensor", "save_tensor", "load_model", "save_model", "KEY",
           "EXTERNAL_THRESHOLD"]

KEY = "onnx"
EXTERNAL_THRESHOLD = 1536 << 20
"""Models whose initializers exceed this many bytes are saved with external data (protobuf stops at 2 GiB)."""


def _onnx() -> Any:
    return require("onnx", "onnx")


def _dtype(proto: Any) -> DType:
    dt = BY_CODE.get(proto.data_type)
    if dt is None or dt.onnx is None:  # codes >= 128 are tensorcbor's own, not ONNX DataTypes
        raise DecodeError("UNKNOWN_DTYPE", f"TensorProto {proto.name!r} has data_type {proto.data_type}, which is "
                          "not an ONNX element type tensorcbor knows (1-28)")
    return dt


def _dims(proto: Any) -> tuple[tuple[int, ...], int]:
    dims = tuple(int(d) for d in proto.dims)
    if len(dims) > MAX_RANK:
        raise DecodeError("RANK_TOO_LARGE", f"TensorProto {proto.name!r} has {len(dims)} dims, over {MAX_RANK}")
    count = 1
    for d in dims:
        if d < 0:
            raise DecodeError("MALFORMED", f"TensorProto {proto.name!r} has a negative dim {d}")
        count *= d
        if count > MAX_ELEMENTS:
            raise DecodeError("SIZE_OVERFLOW", f"TensorProto {proto.name!r}: dims multiply past 2^53-1")
    return dims, count


def _external(proto: Any, base_dir: str | os.PathLike[str] | None, maps: list[Any] | None) -> Any:
    """The bytes of an externally stored tensor, as a view into a memory map of its file."""
    info = {e.key: e.value for e in proto.external_data}
    path = external_path(base_dir, info.get("location", ""), proto.name)
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        raise DecodeError("MALFORMED", f"TensorProto {proto.name!r}: external data offset/length is not an "
                          "integer") from None
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if length is None:
            length = size - offset
        if offset < 0 or length < 0 or offset + length > size:
            raise DecodeError("TRUNCATED", f"TensorProto {proto.name!r}: external data [{offset}, {offset + length})"
                              f" lies outside {path} ({size} bytes)")
        if length == 0:
            return b""
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if maps is not None:
        maps.append(m)
    return memoryview(m)[offset:offset + length]


def external_path(base_dir: str | os.PathLike[str] | None, location: str, name: str) -> str:
    """The file an external-data `location` names, refused unless it stays inside the model's directory.

    As ``onnx.load`` does: no absolute path, no '..', no NUL byte, not the directory
    itself, and no symlink (anywhere on the path) that resolves outside the directory,
    so a hostile model cannot make the converter read /etc/passwd into its output.
    FIFOs and other non-regular files are refused when the file is opened.
    """
    where = Path(location)
    base = os.path.realpath(base_dir or ".")
    why = None
    if not location or "\0" in location:
        why = "is empty or contains a NUL byte"
    elif where.is_absolute() or os.path.isabs(location) or ".." in where.parts or location.startswith("\\"):
        why = "must be a relative path without '..'"
    else:
        real = os.path.realpath(os.path.join(base, location))
        if real == base:
            why = "names the model's directory itself, not a file"
        elif os.path.commonpath([real, base]) != base:
            why = f"resolves (through a symlink) to {real}, outside the model's directory {base}"
    if why is not None:
        raise FileError("UNSAFE_EXTERNAL_DATA", f"TensorProto {name!r}: external data location {location!r} {why}")
    return real


def _from_raw(raw: Any, dt: DType, dims: tuple[int, ...], count: int, name: str) -> np.ndarray:
    if len(raw) != dt.nbytes(count):
        raise DecodeError("SHAPE_MISMATCH", f"TensorProto {name!r}: dims {list(dims)} of {dt.name} need "
                          f"{dt.nbytes(count)} data bytes, found {len(raw)}")
    u8 = np.frombuffer(raw, np.uint8)
    if dt.packed:
        values, _ = packing.unpack(u8, dt.bits, count)
        return values.view(dt.np_dtype).reshape(dims)
    if dt.kind == "bool" and u8.size and int(u8.max()) > 1:
        raise DecodeError("INVALID_ELEMENT", f"TensorProto {name!r}: a bool byte is not 0 or 1")
    if count == 0:
        return np.empty(dims, dt.np_dtype)
    arr = u8.view(dt.np_dtype.newbyteorder("<")).reshape(dims)
    return arr if arr.dtype.isnative else arr.astype(dt.np_dtype)


def _typed_count(dt: DType, count: int) -> int:
    """How many entries ONNX's typed field holds for `count` elements."""
    if dt.kind == "complex":
        return 2 * count
    if dt.packed and dt.bits in (2, 4):
        return dt.nbytes(count)  # int32_data holds one packed byte per entry
    return count


def to_array(proto: Any, base_dir: str | os.PathLike[str] | None = None, *, maps: list[Any] | None = None
             ) -> np.ndarray:
    """The array of a TensorProto, from any storage ONNX allows (strings as numpy StringDType).

    External data is memory-mapped relative to `base_dir`; the maps are appended to
    `maps` so the caller can release their pages. Raw and external data give views.
    """
    onnx = _onnx()
    if proto.HasField("segment"):
        raise DecodeError("MALFORMED", f"TensorProto {proto.name!r} is a segment of a larger tensor; "
                          "segments are not supported")
    dt = _dtype(proto)
    dims, count = _dims(proto)
    if dt.kind == "string":
        if len(proto.string_data) != count:
            raise DecodeError("SHAPE_MISMATCH", f"TensorProto {proto.name!r}: dims {list(dims)} need {count} "
                              f"strings, found {len(proto.string_data)}")
        try:
            texts = [s.decode("utf-8") for s in proto.string_data]
        except UnicodeDecodeError as exc:
            raise DecodeError("INVALID_UTF8", f"TensorProto {proto.name!r}: a string is not UTF-8 ({exc})") from None
        return np.array(texts, dtype=dt.np_dtype).reshape(dims)
    if proto.data_location == onnx.TensorProto.EXTERNAL:
        return _from_raw(_external(proto, base_dir, maps), dt, dims, count, proto.name)
    if proto.HasField("raw_data"):
        return _from_raw(proto.raw_data, dt, dims, count, proto.name)
    field = onnx.helper.tensor_dtype_to_field(dt.code)
    found = len(getattr(proto, field))
    if found != _typed_count(dt, count):
        raise DecodeError("SHAPE_MISMATCH", f"TensorProto {proto.name!r}: dims {list(dims)} of {dt.name} need "
                          f"{_typed_count(dt, count)} entries in {field}, found {found}")
    arr = onnx.numpy_helper.to_array(proto)
    if arr.dtype != dt.np_dtype:  # pragma: no cover - onnx maps every DataType to the table's dtype
        arr = arr.astype(dt.np_dtype)
    return arr


def from_array(array: Any, name: str = "", doc_string: str = "") -> Any:
    """A TensorProto holding `array` in raw_data (string_data for strings); name and doc_string are kept."""
    onnx = _onnx()
    dt, shape, payload = prepare(array)
    if dt.onnx is None:
        raise EncodeError(f"ONNX has no {dt.name} element type (tensorcbor dtype {dt.code}); "
                          + ("dequantize() it to float32 first" if dt.block else "cast it to an ONNX type first"))
    proto = onnx.TensorProto()
    proto.name = name
    if doc_string:
        proto.doc_string = doc_string
    proto.data_type = dt.code
    proto.dims.extend(shape)
    if dt.kind == "string":
        proto.string_data.extend(str(s).encode("utf-8") for s in np.asarray(array).reshape(-1).tolist())
    else:
        proto.raw_data = bytes(payload)
    return proto


# ---------------------------------------------------------------- single TensorProto files (.pb)

def load_tensor(path: str | os.PathLike[str]) -> Tensors:
    """A serialized TensorProto: a named tensor (doc_string in metadata) or, without a name, a single tensor."""
    onnx = _onnx()
    proto = onnx.TensorProto()
    try:
        proto.ParseFromString(Path(path).read_bytes())
    except Exception as exc:  # protobuf raises its own DecodeError type
        raise DecodeError("MALFORMED", f"{path} is not a serialized ONNX TensorProto: {exc}") from None
    maps: list[Any] = []
    arr = to_array(proto, Path(path).parent, maps=maps)
    if not proto.name:
        return Tensors({"tensor": arr}, single=True, maps=maps)
    return Tensors({proto.name: arr}, _tensor_metadata([proto]), maps=maps)


def save_tensor(t: Tensors, path: str | os.PathLike[str]) -> None:
    """Write one tensor as a serialized TensorProto (its name and doc_string from the bundle)."""
    arr = t.only()
    name = "" if t.single else next(iter(t.arrays))
    info = t.metadata.get(KEY, {}) if isinstance(t.metadata.get(KEY), Mapping) else {}
    proto = from_array(arr, name, (info.get("doc_strings") or {}).get(name, ""))
    _props_into(proto, (info.get("metadata_props") or {}).get(name))
    write_bytes(path, proto.SerializeToString())


# ---------------------------------------------------------------- models

def _tensor_metadata(protos: list[Any]) -> dict[str, Any]:
    info: dict[str, Any] = {"initializers": [p.name for p in protos]}
    docs = {p.name: p.doc_string for p in protos if p.doc_string}
    props = {p.name: {e.key: e.value for e in p.metadata_props} for p in protos if len(p.metadata_props)}
    if docs:
        info["doc_strings"] = docs
    if props:
        info["metadata_props"] = props
    return {KEY: info}


def _props_into(proto: Any, props: Any) -> None:
    if isinstance(props, Mapping):
        for key, value in props.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = str(key), str(value)


def load_model(path: str | os.PathLike[str]) -> Tensors:
    """All initializers of an .onnx model (external data memory-mapped), in graph order."""
    onnx = _onnx()
    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as exc:
        raise DecodeError("MALFORMED", f"{path} is not an ONNX model: {exc}") from None
    inits = list(model.graph.initializer)
    maps: list[Any] = []
    arrays: dict[str, np.ndarray] = {}
    for proto in inits:
        name = check_name(proto.name, f"initializer of {path}")
        if name in arrays:
            raise DecodeError("DUPLICATE_NAME", f"{path}: two initializers are named {name!r}")
        arrays[name] = to_array(proto, Path(path).parent, maps=maps)
    return Tensors(arrays, _tensor_metadata(inits), maps=maps)


def save_model(t: Tensors, template: str | os.PathLike[str], path: str | os.PathLike[str], *,
               force: bool = False) -> list[str]:
    """Write `template`'s model with its initializers replaced by the tensors of `t`.

    Names must match the template's initializers exactly (same set); the graph,
    initializer order, doc_strings and metadata_props follow the template and the
    bundle metadata. Large models get their data in ``<path>.data`` next to it (an existing one is replaced only
    with `force`). Returns the paths written.
    """
    onnx = _onnx()
    model = onnx.load(os.fspath(template), load_external_data=False)
    graph = model.graph
    order = [p.name for p in graph.initializer]
    missing = [n for n in order if n not in t.arrays]
    extra = [n for n in t.arrays if n not in set(order)]
    if missing or extra:
        raise EncodeError(f"the tensors do not match the initializers of {template}: "
                          + (f"missing {missing[:5]} " if missing else "")
                          + (f"not in the model {extra[:5]}" if extra else ""))
    info = t.metadata.get(KEY) if isinstance(t.metadata.get(KEY), Mapping) else None
    docs = (info or {}).get("doc_strings") or {}
    props = (info or {}).get("metadata_props") or {}
    old = {p.name: p for p in graph.initializer}
    protos = []
    total = 0
    for name in order:
        proto = from_array(t.arrays[name], name, docs.get(name, "") if info else old[name].doc_string)
        _props_into(proto, props.get(name) if info else {e.key: e.value for e in old[name].metadata_props})
        total += len(proto.raw_data)
        protos.append(proto)
    del graph.initializer[:]
    graph.initializer.extend(protos)
    if total > EXTERNAL_THRESHOLD:
        location = Path(path).name + ".data"
        companions = check_companions(path, [location], force)
        write_with(path, lambda staged: onnx.save_model(
            model, staged, save_as_external_data=True, all_tensors_to_one_file=True, location=location,
            size_threshold=1024), companions=[location])
        return [*companions, os.fspath(path)]
    write_bytes(path, model.SerializeToString())
    return [os.fspath(path)]
