"""NumPy .npy and .npz files ⇄ tensors, never unpickling (allow_pickle=False always).

.npy files are memory-mapped. NumPy has no .npy spelling for ml_dtypes types
(it writes bfloat16 as void ``V2``), so writing them is refused and void arrays
are refused on reading: use .tcb or .safetensors for those.
"""

from __future__ import annotations

import os
import zipfile
from typing import Any

import numpy as np

from ..dtypes import from_numpy
from ..errors import CODES, DecodeError, EncodeError
from ..files import atomic_write
from ._common import Tensors, check_name

__all__ = ["load_npy", "save_npy", "load_npz", "save_npz", "data_offset", "MAX_DECOMPRESSED", "LIMIT_CODE"]

MAX_DECOMPRESSED = 1 << 30
"""Default bound on the bytes a .npz's compressed members may inflate to (SPEC's reference default)."""
LIMIT_CODE = "DECOMPRESSION_LIMIT" if "DECOMPRESSION_LIMIT" in CODES else "SIZE_OVERFLOW"
"""The registry code for that bound (DECOMPRESSION_LIMIT of format 1.0; SIZE_OVERFLOW where it is absent)."""


def _checked(arr: Any, where: str) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise DecodeError("UNEXPECTED_TYPE", f"{where} does not hold an array")
    if arr.dtype.kind == "U":
        return arr.astype(np.dtypes.StringDType())
    if from_numpy(arr.dtype) is None:
        raise DecodeError("UNKNOWN_DTYPE", f"{where} has dtype {arr.dtype}, which tensorcbor cannot store"
                          + (" (ml_dtypes arrays lose their type in .npy)" if arr.dtype.kind == "V" else ""))
    return arr


def _load(source: Any, where: str, **kwargs: Any) -> Any:
    try:
        return np.load(source, allow_pickle=False, **kwargs)
    except ValueError as exc:  # pickled object arrays, bad headers
        code = "UNKNOWN_DTYPE" if "pickle" in str(exc) or "Python objects" in str(exc) else "MALFORMED"
        raise DecodeError(code, f"{where}: {exc}") from None
    except (EOFError, zipfile.BadZipFile) as exc:
        raise DecodeError("TRUNCATED", f"{where}: {exc}") from None


def load_npy(path: str | os.PathLike[str]) -> Tensors:
    """A .npy file as a single tensor (memory-mapped when it has data)."""
    arr = _load(path, str(path), mmap_mode="r")
    return Tensors({"tensor": _checked(arr, str(path))}, single=True)


def load_npz(path: str | os.PathLike[str], *, max_decompressed: int = MAX_DECOMPRESSED) -> Tensors:
    """A .npz archive as a bundle; member names lose their .npy suffix, as numpy names them.

    Every member's sizes are checked before anything is read: a stored member must hold exactly the bytes its
    .npy header needs, and compressed members may not inflate to more than `max_decompressed` bytes in total
    (1 GiB by default) nor beyond deflate's largest ratio, so a small file cannot make this allocate terabytes.
    """
    arrays: dict[str, np.ndarray] = {}
    size = os.path.getsize(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DecodeError("MALFORMED", f"{path} is not a .npz (zip) archive: {exc}") from None
    with zf:
        inflated = 0
        for info in zf.infolist():
            where = f"{path}:{info.filename}"
            name = check_name(info.filename.removesuffix(".npy"), str(path))
            if name in arrays:
                raise DecodeError("DUPLICATE_NAME", f"{where}: the archive holds {name!r} twice")
            inflated += _check_member(info, size, where)
            if inflated > max_decompressed:
                raise DecodeError(LIMIT_CODE, f"{where}: compressed members inflate to more than "
                                  f"{max_decompressed} bytes (a deflate bomb?); raise max_decompressed if you "
                                  "trust the file")
            arrays[name] = _checked(_read_member(zf, info, where), where)
    return Tensors(arrays)


_MAX_DEFLATE_RATIO = 1100  # deflate cannot exceed ~1032:1


def _check_member(info: zipfile.ZipInfo, archive_size: int, where: str) -> int:
    """Sizes a member claims that the archive cannot hold; returns the bytes it will inflate to (0 if stored)."""
    if info.compress_size > archive_size:
        raise DecodeError("TRUNCATED", f"{where}: claims {info.compress_size} stored bytes in a "
                          f"{archive_size}-byte archive")
    if info.compress_type == zipfile.ZIP_STORED:
        if info.file_size != info.compress_size:
            raise DecodeError("MALFORMED", f"{where}: a stored member of {info.compress_size} bytes claims "
                              f"{info.file_size} bytes")
        return 0
    if info.file_size > max(info.compress_size, 1) * _MAX_DEFLATE_RATIO:
        raise DecodeError("MALFORMED", f"{where}: {info.compress_size} compressed bytes cannot inflate to the "
                          f"{info.file_size} bytes it claims")
    return info.file_size


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> np.ndarray:
    """Read one .npy member after checking that its header's shape needs exactly the member's bytes."""
    try:
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(f)
            header_len = f.tell()
            if dtype.hasobject:
                raise DecodeError("UNKNOWN_DTYPE", f"{where}: object arrays (pickles) are refused")
            count = int(np.prod(shape, dtype=object)) if shape else 1
            if count * dtype.itemsize != info.file_size - header_len:
                raise DecodeError("SHAPE_MISMATCH", f"{where}: shape {list(shape)} of {dtype} needs "
                                  f"{count * dtype.itemsize} bytes, the member holds {info.file_size - header_len}")
        with zf.open(info) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except DecodeError:
        raise
    except (ValueError, EOFError, zipfile.BadZipFile, OSError, NotImplementedError) as exc:
        raise DecodeError("MALFORMED", f"{where}: {exc}") from None


def _writable(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype.kind == "T":
        width = max((len(x) for x in arr.reshape(-1).tolist()), default=1)
        return arr.astype(f"U{max(width, 1)}")
    if arr.dtype.kind == "V":
        raise EncodeError(f"tensor {name!r} is {arr.dtype.name}, which .npy cannot tag (numpy would write void "
                          "'V' bytes); keep it in .tcb or .safetensors")
    return arr


def save_npy(t: Tensors, path: str | os.PathLike[str]) -> None:
    """Write one tensor as .npy."""
    arr = _writable(np.asarray(t.only()), "tensor")
    with atomic_write(path) as f:
        np.lib.format.write_array(f, arr, allow_pickle=False)


def save_npz(t: Tensors, path: str | os.PathLike[str]) -> None:
    """Write tensors as an uncompressed .npz (bundle metadata has no place there and is refused)."""
    if t.metadata:
        raise EncodeError(".npz has no place for bundle metadata; write .tcb or .safetensors, or drop it "
                          "(tensorcbor convert --drop-metadata)")
    with atomic_write(path) as out, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in t.arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, _writable(np.asarray(arr), name), allow_pickle=False)


def data_offset(path: str | os.PathLike[str]) -> int:
    """Where a .npy file's element bytes start."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        else:
            np.lib.format.read_array_header_2_0(f)
        return f.tell()
