"""The compiled bundle reader: the Rust crate's strict checks, verdicts and all.

Every wheel of tensorcbor holds ``tensorcbor._native``, bindings/python-accel (the no_std Rust crate of
bindings/rust behind PyO3), built by setup.py; an install from source without cargo has none and runs the
pure-Python reference. When it is present, states this package's format and SPEC.md versions, and
TENSORCBOR_NO_ACCEL is unset or empty, ``decode_bundle``, ``load_file`` and ``parse_bundle`` check a strict
bundle in one native call, which keeps the directory in Rust (``NativeInfos`` asks it for one tensor at a
time), and ``read_layout`` reads a prefix the same way.

It answers rejections itself: the crate's code and offset are the reference's (the differential fuzzer and
tests/test_accel.py compare them), so a hostile input costs what the crate costs, not a re-read in Python.
The message is the registry's text for the code. The reference judges only what the crate does not
implement: lenient mode, compressed tensors (Extended profile), ``string`` tensors, a prefix too short
for ``read_layout`` (its ``needed`` hint), and a panic of the compiled reader (a bug, never a crash).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

from .dtypes import BY_CODE
from .errors import REGISTRY, DecodeError
from .tensor import _BIG_ENDIAN_HOST, TensorInfo, plain_view
from .versions import FORMAT_VERSION, SPEC_VERSION

__all__ = ["available", "status", "index_bundle", "read_layout", "use", "NativeInfos", "ELEMENT_CHECKED"]

ENV_DISABLE = "TENSORCBOR_NO_ACCEL"
ELEMENT_CHECKED = [d.code for d in BY_CODE.values() if d.packed or d.kind == "bool"]
"""The dtype codes with element checks (SPEC.md §7.2): bool and the packed sub-byte dtypes."""
_EXPLAIN = dict(REGISTRY)
_REFERENCE_JUDGES = frozenset({"UNSUPPORTED_COMPRESSION"})
"""Crate verdicts that are not the reference's: the crate implements the Core profile only."""


def _load() -> tuple[ModuleType | None, str]:
    if os.environ.get(ENV_DISABLE):
        return None, f"off ({ENV_DISABLE} is set): pure Python"
    try:
        from . import _native as native
    except ImportError:
        return None, ("pure Python (this install has no compiled reader: it was built from source without "
                      "cargo; reinstall with a Rust toolchain on PATH, or from a wheel)")
    states = (getattr(native, "FORMAT_VERSION", None), getattr(native, "SPEC_VERSION", None))
    if states != (FORMAT_VERSION, SPEC_VERSION):
        return None, (f"the compiled reader {getattr(native, '__version__', '?')} implements format {states[0]} / "
                      f"SPEC.md {states[1]}, this package {FORMAT_VERSION} / {SPEC_VERSION}: not used, pure Python "
                      "(rebuild it: pip install -e . with cargo on PATH)")
    return native, f"compiled (Rust, tensorcbor._native {native.__version__}, SPEC.md {native.SPEC_VERSION})"


_native, _status = _load()
_on = _native is not None


def available() -> bool:
    """Whether bundle checks run in the compiled reader now."""
    return _on


def status() -> str:
    """One line for ``tensorcbor --version`` and bug reports: which reader checks bundles, and why."""
    return _status if _on or _native is None else "off (tensorcbor.accel.use(False)): pure Python"


def use(on: bool) -> bool:
    """Turn the compiled reader on or off for this process (tests compare both paths); returns the previous
    setting. Turning it on without it installed does nothing."""
    global _on
    was = _on
    _on = on and _native is not None
    return was


def index_bundle(buf: Any, check_elements: bool) -> Any:
    """The native index (``tensorcbor._native.Index``) of a strict bundle that passed every check of SPEC.md
    §7.1 (and §7.2 when `check_elements`); raises the reference's DecodeError for an invalid one. None: the
    reference must judge (a string or compressed tensor, a buffer the crate cannot read, no compiled reader)."""
    return _judged(lambda native: native.index_bundle(buf, check_elements), truncated_too=False)


def read_layout(buf: Any) -> list[Any] | None:
    """A strict bundle's layout from a prefix of it, as ``LayoutEntry`` rows built in Rust; raises the
    reference's DecodeError for an invalid prefix. None: the reference must judge (TRUNCATED, whose `needed`
    only it computes; compression; no compiled reader)."""
    was = gc.isenabled()
    gc.disable()  # tens of thousands of small acyclic tuples: collections triggered by them cost half the time
    try:
        return _judged(lambda native: native.read_layout(buf, BY_CODE), truncated_too=True)
    finally:
        if was:
            gc.enable()


def _judged(call: Callable[[ModuleType], Any], truncated_too: bool) -> Any:
    """`call(native)`'s result; its rejection as the reference's DecodeError; None when the reference judges."""
    if not _on:
        return None
    assert _native is not None
    try:
        return call(_native)
    except _native.Rejected as rejected:
        code, offset = rejected.args
        if code in _REFERENCE_JUDGES or (truncated_too and code == "TRUNCATED"):
            return None
        raise DecodeError(code, _EXPLAIN[code], offset) from None
    except (TypeError, BufferError, _native.Panicked):
        return None


class NativeInfos(Mapping[str, TensorInfo]):
    """name -> TensorInfo over a native index: nothing is built per tensor until that tensor is asked for."""

    __slots__ = ("_index", "_names", "_direct")

    def __init__(self, index: Any) -> None:
        self._index = index
        self._names: list[str] | None = None
        self._direct = index.aligned and not _BIG_ENDIAN_HOST

    def __getitem__(self, name: str) -> TensorInfo:
        code, shape, _, offset, nbytes = self._find(name)
        return TensorInfo(BY_CODE[code], shape, offset, nbytes)

    def __iter__(self) -> Iterator[str]:
        if self._names is None:
            self._names = self._index.names()
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, name: object) -> bool:
        return type(name) is str and name in self._index

    def view(self, buf: Any, name: str) -> Any:
        """As ``LazyInfos.view``: a read-only view of a plain tensor, else None (materialize decides)."""
        code, shape, count, offset, _ = self._find(name)
        return plain_view(buf, code, shape, count, offset) if self._direct else None

    def _find(self, name: str) -> tuple[int, tuple[int, ...], int, int, int]:
        """(dtype code, shape, count, offset, length) of `name`; KeyError for any other key, as a dict."""
        found = self._index.get(name) if type(name) is str else None
        if found is None:
            raise KeyError(name)
        return found
