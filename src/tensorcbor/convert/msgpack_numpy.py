"""The msgpack-numpy wire format (used by Bittensor), implemented without pickle (``tensorcbor[msgpack]``).

msgpack-numpy writes an array as the map ``{b"nd": True, b"type": dtype.str,
b"kind": b"", b"shape": [...], b"data": <bytes>}`` and a numpy scalar as
``{b"nd": False, b"type": ..., b"data": ...}``; object arrays carry a pickle,
which we refuse to read or write. ml_dtypes types (bfloat16, float8...) have no
faithful msgpack-numpy form (it writes them as void ``V2``), so we write their
ml_dtypes name as ``type`` (msgpack_numpy reads that back when ml_dtypes is
imported) and reject void arrays on reading.

Bundle mapping (reversible): a top-level map becomes a bundle. Array values are
tensors; numpy scalars are 0-d tensors listed in ``metadata["msgpack"]["scalars"]``;
other values go to ``metadata["msgpack"]["values"]``; the key order is
``metadata["msgpack"]["order"]``; the map entry ``"__metadata__"`` (if a map)
holds the other bundle metadata. A top-level array becomes a tensor document.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..dtypes import TABLE, from_numpy
from ..errors import DecodeError, EncodeError
from ._common import Progress, Tensors, check_name, drop_pages, map_file, require, write_parts

__all__ = ["packb", "unpackb", "loads", "dumps", "load", "save", "KEY", "META_ENTRY"]

KEY = "msgpack"
META_ENTRY = "__metadata__"
_ML_NAMES = {d.name: d for d in TABLE if d.numpy.startswith("ml_dtypes.")}
_NUMPY_STR = re.compile(r"[<>|=]?[biufcU]\d{1,9}")
_MAX_STR_CHARS = 1 << 20
MAX_ELEMENTS = 2**53 - 1  # SPEC.md's limit on the product of the non-zero dimensions


def _msgpack() -> Any:
    return require("msgpack", "msgpack")


def _dtype_of(descr: Any, kind: Any) -> np.dtype:
    if kind == b"O":
        raise DecodeError("UNKNOWN_DTYPE", "msgpack-numpy object array (a pickle) refused: tensorcbor never "
                          "unpickles; send numeric or string arrays")
    if kind == b"V" or not isinstance(descr, str):
        raise DecodeError("UNKNOWN_DTYPE", f"msgpack-numpy dtype {descr!r} (kind {kind!r}) is structured or void; "
                          "only numeric, bool and str arrays (and ml_dtypes types by name) are supported")
    if descr in _ML_NAMES:
        return _ML_NAMES[descr].np_dtype
    if not _NUMPY_STR.fullmatch(descr):
        raise DecodeError("UNKNOWN_DTYPE", f"msgpack-numpy dtype {descr!r} is not a numpy dtype string")
    try:
        dt = np.dtype(descr)
    except TypeError:
        raise DecodeError("UNKNOWN_DTYPE", f"msgpack-numpy dtype {descr!r} is not a numpy dtype") from None
    if dt.kind == "U" and dt.itemsize // 4 > _MAX_STR_CHARS:
        raise DecodeError("UNKNOWN_DTYPE", f"msgpack-numpy dtype {descr!r} is too wide")
    if dt.kind != "U" and from_numpy(dt) is None:
        raise DecodeError("UNKNOWN_DTYPE", f"msgpack-numpy dtype {descr!r} has no tensorcbor dtype")
    return dt


def _decode_hook(obj: dict[Any, Any]) -> Any:
    if b"nd" not in obj:
        if obj.get(b"complex") is True and isinstance(obj.get(b"data"), str):
            try:
                return complex(obj[b"data"])
            except ValueError:
                raise DecodeError("MALFORMED", f"msgpack-numpy complex {obj[b'data']!r} is not a number") from None
        return obj
    data = obj.get(b"data")
    if not isinstance(data, bytes):
        raise DecodeError("MALFORMED", "msgpack-numpy array without a byte-string b'data' entry")
    dt = _dtype_of(obj.get(b"type"), obj.get(b"kind", b""))
    if obj[b"nd"] is not True:
        if len(data) != dt.itemsize:
            raise DecodeError("SHAPE_MISMATCH", f"msgpack-numpy scalar of {dt} needs {dt.itemsize} bytes")
        return np.frombuffer(data, dt)[0]
    shape = obj.get(b"shape")
    if not isinstance(shape, (list, tuple)) or not all(type(d) is int and d >= 0 for d in shape) or len(shape) > 32:
        raise DecodeError("MALFORMED", f"msgpack-numpy shape {shape!r} is not a list of non-negative integers")
    count = int(np.prod(shape, dtype=object)) if shape else 1
    if int(np.prod([d for d in shape if d], dtype=object)) > MAX_ELEMENTS:
        raise DecodeError("SIZE_OVERFLOW", f"msgpack-numpy shape {list(shape)} has more than 2^53 - 1 elements")
    if count * dt.itemsize != len(data):
        raise DecodeError("SHAPE_MISMATCH", f"msgpack-numpy array of shape {list(shape)} and dtype {dt} needs "
                          f"{count * dt.itemsize} bytes, found {len(data)}")
    arr = np.frombuffer(data, dt, count).reshape(shape) if count else np.empty(shape, dt)
    if dt.kind == "U":
        arr = arr.astype(np.dtypes.StringDType())
    elif dt.kind == "b" and arr.size and int(arr.view(np.uint8).max()) > 1:
        raise DecodeError("INVALID_ELEMENT", "msgpack-numpy bool array holds a byte that is not 0 or 1")
    elif not dt.isnative:
        arr = arr.astype(dt.newbyteorder("="))
    return arr


def unpackb(data: Any) -> Any:
    """Decode msgpack-numpy bytes like ``msgpack_numpy.unpackb``, but never unpickling."""
    msgpack = _msgpack()
    try:
        return msgpack.unpackb(data, object_hook=_decode_hook, raw=False, strict_map_key=False)
    except DecodeError:
        raise
    except msgpack.ExtraData:
        raise DecodeError("TRAILING_BYTES", "bytes follow the msgpack value") from None
    except msgpack.StackError:
        raise DecodeError("NESTING_TOO_DEEP", "msgpack arrays and maps nest deeper than msgpack's reader allows "
                          "(1024 levels)") from None
    except (ValueError, msgpack.UnpackException) as exc:  # OutOfData, FormatError...
        text = str(exc)
        code = ("TRUNCATED" if "incomplete" in text.lower() or "exceeds max_" in text
                or type(exc).__name__ == "OutOfData" else "MALFORMED")
        raise DecodeError(code, f"not valid msgpack: {text or type(exc).__name__}") from None


def _encode_hook(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in ("O", "V") and obj.dtype.name not in _ML_NAMES:
            raise EncodeError(f"array of dtype {obj.dtype} has no msgpack-numpy form without pickle; "
                              "convert it to a numeric or str dtype")
        if obj.dtype.kind == "T":
            width = max((len(x) for x in obj.reshape(-1).tolist()), default=1)
            obj = obj.astype(f"U{max(width, 1)}")
        descr = obj.dtype.name if obj.dtype.name in _ML_NAMES else obj.dtype.str
        return {b"nd": True, b"type": descr, b"kind": b"", b"shape": obj.shape,
                b"data": obj.tobytes() if not obj.flags.c_contiguous else memoryview(obj.reshape(-1).view(np.uint8))}
    if isinstance(obj, (np.bool_, np.number)):
        return {b"nd": False, b"type": obj.dtype.str, b"data": obj.tobytes()}
    if isinstance(obj, complex):
        return {b"complex": True, b"data": repr(obj)}
    raise EncodeError(f"{type(obj).__name__} has no msgpack-numpy form (and tensorcbor never pickles)")


def packb(obj: Any) -> bytes:
    """Encode like ``msgpack_numpy.packb`` (same bytes for numeric and str arrays), never pickling."""
    msgpack = _msgpack()
    try:
        return bytes(msgpack.packb(obj, default=_encode_hook, use_bin_type=True))
    except (TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, EncodeError):
            raise
        raise EncodeError(f"cannot write msgpack: {exc}") from None


# ---------------------------------------------------------------- bundles

def loads(data: Any) -> Tensors:
    """A msgpack-numpy blob as tensors: a top-level map is a bundle, a top-level array a tensor."""
    value = unpackb(data)
    if isinstance(value, np.ndarray):
        return Tensors({"tensor": value}, single=True)
    if not isinstance(value, dict):
        raise DecodeError("UNEXPECTED_TYPE", f"a msgpack-numpy bundle is a map of arrays, found "
                          f"{type(value).__name__}")
    arrays: dict[str, np.ndarray] = {}
    scalars, values, order = [], {}, []
    metadata: dict[str, Any] = {}
    for key, item in value.items():
        name = check_name(key, "msgpack-numpy map")
        order.append(name)
        if name == META_ENTRY and isinstance(item, dict):
            metadata.update(item)
        elif isinstance(item, np.ndarray):
            arrays[name] = item
        elif isinstance(item, np.generic):
            arrays[name] = np.asarray(item)
            scalars.append(name)
        else:
            values[name] = _plain(item, name)
    info: dict[str, Any] = {"order": order}
    if scalars:
        info["scalars"] = scalars
    if values:
        info["values"] = values
    metadata[KEY] = info
    return Tensors(arrays, metadata)


def _plain(item: Any, where: str) -> Any:
    """Check a non-array msgpack value fits bundle metadata (no nested arrays, text keys)."""
    if isinstance(item, (np.ndarray, np.generic, complex)):
        raise DecodeError("UNSUPPORTED_VALUE", f"msgpack-numpy value {where!r} nests an array or complex number "
                          "inside a list or map; only top-level arrays become tensors")
    if isinstance(item, dict):
        if not all(isinstance(k, str) for k in item):
            raise DecodeError("UNSUPPORTED_VALUE", f"msgpack map in {where!r} has non-text keys")
        return {k: _plain(v, where) for k, v in item.items()}
    if isinstance(item, list):
        return [_plain(v, where) for v in item]
    return item


def dumps(t: Tensors) -> bytes:
    """msgpack-numpy bytes of tensors, restoring the layout recorded by `loads`."""
    return b"".join(bytes(p) for p in _parts(_layout(t)))


def _layout(t: Tensors) -> Any:
    """The value msgpack-numpy would pack: one array, or the ordered top-level map."""
    if t.single and not t.metadata:
        return t.only()
    found = t.metadata.get(KEY)
    info: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    scalars = set(info.get("scalars") or ())
    values = dict(info.get("values") or {})
    rest = {k: v for k, v in t.metadata.items() if k != KEY}
    entries: dict[str, Any] = {}
    for name, arr in t.arrays.items():
        entries[name] = arr[()] if name in scalars and arr.ndim == 0 else np.asarray(arr)
    clash = set(entries) & (set(values) | ({META_ENTRY} if rest else set()))
    if clash:
        raise EncodeError(f"names {sorted(clash)} are both tensors and msgpack values")
    entries.update(values)
    if rest:
        entries[META_ENTRY] = rest
    order = [n for n in info.get("order") or () if n in entries]
    ordered = {n: entries[n] for n in order}
    ordered.update((n, v) for n, v in entries.items() if n not in ordered)
    return ordered


def _bin_header(size: int) -> bytes:
    """msgpack's bin 8/16/32 head for `size` bytes (the C packer has no public method for it)."""
    if size < 1 << 8:
        return bytes([0xC4, size])
    if size < 1 << 16:
        return b"\xc5" + size.to_bytes(2, "big")
    if size < 1 << 32:
        return b"\xc6" + size.to_bytes(4, "big")
    raise EncodeError(f"an array of {size} bytes is over msgpack's 4 GiB limit for one byte string")


def _parts(value: Any) -> Iterator[Any]:
    """The bytes of ``packb(value)`` in pieces, each array's data as a view (no whole-file buffer)."""
    msgpack = _msgpack()
    packer = msgpack.Packer(default=_encode_hook, use_bin_type=True, autoreset=True)

    def one(obj: Any) -> Iterator[Any]:
        if not isinstance(obj, np.ndarray):
            try:
                yield packer.pack(obj)
            except (TypeError, ValueError, OverflowError) as exc:
                if isinstance(exc, EncodeError):
                    raise
                raise EncodeError(f"cannot write msgpack: {exc}") from None
            return
        fields = _encode_hook(obj)
        data = fields.pop(b"data")
        yield packer.pack_map_header(len(fields) + 1)
        for key, field in fields.items():
            yield packer.pack(key) + packer.pack(field)
        size = data.nbytes if isinstance(data, memoryview) else len(data)
        yield packer.pack(b"data") + _bin_header(size)
        yield data

    if isinstance(value, dict):
        yield packer.pack_map_header(len(value))
        for key, item in value.items():
            yield packer.pack(key)
            yield from one(item)
    else:
        yield from one(value)


def load(path: str | os.PathLike[str]) -> Tensors:
    """Read a msgpack-numpy file: msgpack copies each array's bytes once, out of a memory map whose pages are then
    released, so memory peaks near twice the file and settles at about once."""
    buf = map_file(path)
    t = loads(buf)
    drop_pages([buf])
    return t


def save(t: Tensors, path: str | os.PathLike[str], *, progress: Progress | None = None) -> None:
    """Write tensors as a msgpack-numpy file, piece by piece (array data is copied once, to the file)."""
    write_parts(path, _parts(_layout(t)), progress=progress, maps=t.maps)
