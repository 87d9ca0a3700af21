"""Buffers the caller (or another thread) may write: the same behaviour on both bundle readers (issue #18).

The decided behaviour, documented in the README ("Buffers you may write"):
- Any buffer of bytes is a document: bytes, bytearray, memoryview, mmap, a numpy uint8 array (a strided 1-D
  view as its logical bytes); read_layout takes what decode_bundle takes.
- The checks run once, on the bytes as they are during the call. The compiled reader copies a buffer that
  anyone may write (everything but bytes and read-only mmaps) before Rust reads it, so a writer thread
  cannot race it; a concurrent write yields a valid result or a DecodeError, never a panic or a crash.
- After decode_bundle, arrays are views of the caller's buffer where the dtype allows (plain and bool dtypes):
  later writes show through them, unchecked, as with numpy.frombuffer; packed sub-byte dtypes are unpacked
  at decode (copies, unaffected). A lazy reader (parse_bundle/load_file without element checks) checks a
  tensor's elements when it is first read, so a write before that read is judged then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from tensorcbor import DecodeError, accel, decode_bundle, encode_bundle, read_layout
from tensorcbor.bundle import parse_bundle

PATHS = [pytest.param(True, id="compiled"), pytest.param(False, id="pure")]


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest) -> Iterator[bool]:
    on = request.param
    if on and not accel.available():
        pytest.skip(f"the compiled reader is not in use ({accel.status()})")
    was = accel.use(on)
    try:
        yield on
    finally:
        accel.use(was)


def _doc(suffix: str = "ab") -> bytes:
    return encode_bundle({
        "f": np.arange(6, dtype=np.float32).reshape(2, 3),
        "m": np.array([True, False, True]),
        "q": np.array([1, -2, 3], dtype=ml_dtypes.int4),
        **{f"layer.{i:03d}{suffix}": np.full(4, i, np.int16) for i in range(200)},
    }, {"model": "x", "n": [1, 2.5]})


def _layout(data: Any) -> Any:
    try:
        return [tuple(e) for e in read_layout(data)]
    except DecodeError as exc:
        return exc.code, exc.offset, exc.needed


def test_read_layout_takes_what_decode_bundle_takes(path: bool) -> None:
    doc = _doc()
    expected = _layout(doc)
    assert isinstance(expected, list) and len(expected) == 203
    for form in (bytearray(doc), memoryview(doc), np.frombuffer(doc, np.uint8), np.frombuffer(doc, np.uint8).copy()):
        assert _layout(form) == expected
        assert list(decode_bundle(form)) == [e[0] for e in expected]
    for prefix in (np.frombuffer(doc[:40], np.uint8).copy(), bytearray(doc[:3])):
        assert _layout(prefix)[0] == "TRUNCATED"
    strided = np.frombuffer(doc + doc, np.uint8)[::2]  # a 1-D byte view is read as its logical bytes
    assert _layout(strided) == _layout(strided.tobytes())


def test_layout_and_decode_of_a_buffer_written_meanwhile_never_panic(path: bool) -> None:
    """The race of issue #18: a numpy uint8 array written by np.copyto (which releases the GIL) in another
    thread while read_layout and decode_bundle read it. Each call sees some state of the bytes: it returns a
    layout/bundle or raises DecodeError; before the fix the compiled reader raised PanicException (a
    BaseException) in about 1 of 8 calls."""
    doc = _doc()
    # Two valid documents whose names differ in the same bytes ("ab" / "é"): a torn mix is invalid UTF-8 in a
    # name the crate may already have checked (PyString creation then failed: the PanicException).
    states = [np.frombuffer(doc, np.uint8).copy(), np.frombuffer(_doc("é"), np.uint8).copy()]
    for at in range(8, len(doc) // 3, 97):  # corrupt names, heads and lengths in the prefix
        bad = states[0].copy()
        bad[at:at + 8] = 0xff - bad[at:at + 8]
        states.append(bad)
    live = states[0].copy()
    stop = threading.Event()

    def writer() -> None:
        k = 0
        while not stop.is_set():
            for _ in range(50):
                np.copyto(live, states[k % len(states)])
                k += 1

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    outcomes: dict[str, int] = {}
    deadline = time.monotonic() + 20
    try:
        for i in range(100_000):
            if i >= 300 and (len(outcomes) > 1 or time.monotonic() > deadline):
                break
            time.sleep(0.0002)  # let the writer run between calls too (it gets the GIL only at switches)
            try:
                if i % 2:
                    got = read_layout(live)
                    outcome = f"layout of {len(got)}"
                else:
                    outcome = f"bundle of {len(decode_bundle(live))}"
            except DecodeError as exc:
                outcome = exc.code
            except BaseException as exc:  # noqa: BLE001 - the point: nothing but DecodeError may escape
                pytest.fail(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    finally:
        stop.set()
        thread.join()
    assert len(outcomes) > 1, outcomes  # the writer did change the bytes under the readers


def test_the_compiled_reader_copies_buffers_others_may_write() -> None:
    if not accel.available():
        pytest.skip(f"the compiled reader is not in use ({accel.status()})")
    from tensorcbor import _native

    doc = _doc()
    shared = {"bytes": doc, "memoryview of bytes": memoryview(doc)}
    private = {"bytearray": bytearray(doc), "numpy": np.frombuffer(doc, np.uint8).copy(),
               "memoryview of bytearray": memoryview(bytearray(doc)).toreadonly(),
               "read-only numpy view of a writable array": np.frombuffer(bytearray(doc), np.uint8)}
    private["read-only numpy view of a writable array"].flags.writeable = False
    for name, buf in {**shared, **private}.items():
        index = _native.index_bundle(buf, True)
        assert index.copied == (name in private), name
        assert len(index) == 203 and index.metadata == {"model": "x", "n": [1, 2.5]}


def test_a_panic_in_the_compiled_reader_is_judged_by_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    if not accel.available():
        pytest.skip(f"the compiled reader is not in use ({accel.status()})")
    from tensorcbor import _native

    assert issubclass(_native.Panicked, RuntimeError)  # an Exception, not pyo3's BaseException

    def panics(*args: Any) -> Any:
        raise _native.Panicked("boom")

    monkeypatch.setattr(_native, "index_bundle", panics)
    monkeypatch.setattr(_native, "read_layout", panics)
    doc = _doc()
    assert len(decode_bundle(doc)) == 203 and len(read_layout(doc)) == 203
    with pytest.raises(DecodeError) as exc:
        decode_bundle(doc[:-1])
    assert exc.value.code == "TRUNCATED"


def test_writes_after_decode_show_through_views_on_both_paths(path: bool) -> None:
    doc = bytearray(_doc())
    b = decode_bundle(doc)
    f, m, q = (b.info(n) for n in ("f", "m", "q"))
    before_q = b["q"].copy()
    doc[m.offset] = 2  # an invalid bool, written after the checks
    doc[f.offset:f.offset + 4] = np.float32(-1).tobytes()
    doc[q.offset] ^= 0xff
    assert b["f"][0, 0] == -1  # a view of the caller's buffer
    assert b["m"].view(np.uint8)[0] == 2  # built (and checked) at decode: a view, unchecked since
    assert np.array_equal(b["q"], before_q)  # unpacked at decode: a copy
    assert not b["f"].flags.writeable and not b["m"].flags.writeable


def test_a_lazy_reader_checks_elements_when_first_read(path: bool) -> None:
    doc = bytearray(_doc())
    b = parse_bundle(doc)  # as load_file: element checks deferred to first access
    m = b.info("m")
    doc[m.offset] = 2
    with pytest.raises(DecodeError) as exc:
        b["m"]
    assert (exc.value.code, exc.value.offset) == ("INVALID_ELEMENT", m.offset)
