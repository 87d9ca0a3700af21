"""Bundle files, and safe file access for every writer and reader of the package.

Every output file (``save_file``, the converters, ``tensorcbor stream join``) is written
through ``atomic_write``: a temp file created exclusively in the target's directory,
fsynced, then renamed over the target, so a reader never sees half a file, a failure
never destroys an existing output, and concurrent writers of one path never fail each
other (the last rename wins). Every input file is opened with ``open_regular``, which
refuses FIFOs, devices and directories without blocking on them.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any, cast

from .bundle import Bundle, Tensors, bundle_parts, parse_bundle
from .cbor import DEFAULT_MAX_DECOMPRESSED
from .errors import FileError

FILE_EXTENSION = ".tcb"
MEDIA_TYPE = "application/vnd.tensorcbor+cbor"

PathLike = str | os.PathLike[str]


def save_file(tensors: Tensors, path: PathLike, metadata: Mapping[str, Any] | None = None, *,
              compression: str | None = None, shuffle: bool = False, durable: bool = True) -> None:
    """Write a bundle without building it in memory: each tensor's bytes are copied once, to the file.

    The file appears whole or not at all; with `durable` (the default) it is also on disk when this
    returns, which costs two fsyncs; ``durable=False`` skips them (see ``atomic_write``).
    """
    parts = bundle_parts(tensors, metadata, compression=compression, shuffle=shuffle)
    with atomic_write(path, durable=durable) as f:
        for part in parts:
            f.write(cast(Any, part))


def load_file(path: PathLike, *, strict: bool = True, copy: bool = False,
              max_decompressed: int = DEFAULT_MAX_DECOMPRESSED) -> Bundle:
    """Read a bundle file and check its headers; each tensor is built (elements checked) on first access.

    By default the file is memory-mapped and arrays are read-only views of the map:
    nothing is read until used. A live map has one hazard: if another process
    truncates the file while it is mapped, touching a vanished page kills this process
    with SIGBUS (true of every mmap-based reader, safetensors included). For files
    that others may modify, pass ``copy=True``: the file is read into memory once and
    no mapping stays alive. Anything but a regular file (FIFO, device, directory) is
    refused with FileError NOT_A_REGULAR_FILE, without blocking. `max_decompressed`
    bounds the uncompressed bytes that compressed tensors may declare (DECOMPRESSION_LIMIT).
    """
    if copy:
        with open_regular(path) as f:
            data: Any = f.read()
    else:
        fd, size = _open_regular_fd(path)
        try:
            data = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if size else b""
        finally:
            os.close(fd)
    return parse_bundle(data, strict=strict, max_decompressed=max_decompressed)


# ------------------------------------------------------------------ reading

def open_regular(path: PathLike) -> IO[bytes]:
    """Open `path` for reading in binary mode, refusing anything that is not a regular file.

    The open is non-blocking (a FIFO with no writer would otherwise block forever) and the
    type is checked on the opened descriptor (fstat), so a file swapped in between a check
    and the open cannot slip through.
    """
    fd, _ = _open_regular_fd(path)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_regular_fd(path: PathLike) -> tuple[int, int]:
    """``open_regular`` as a blocking descriptor and the file's size (the caller closes it)."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileError("NOT_A_REGULAR_FILE", f"{os.fspath(path)} is {_kind(st.st_mode)}, not a regular file; "
                            "tensorcbor reads only regular files", os.fspath(path))
        if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0) and hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return fd, st.st_size
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def check_not_same(output: PathLike, inputs: Iterable[PathLike | None]) -> None:
    """Refuse to write `output` when it is one of `inputs` (same file, whatever the path says)."""
    for src in inputs:
        if src is None:
            continue
        try:
            same = os.path.samefile(output, src)
        except OSError:  # the output does not exist yet (or the input vanished): not the same file
            same = False
        if same:
            raise FileError("SAME_FILE", f"{os.fspath(output)} is the input file {os.fspath(src)}; write the "
                            "output to another path", os.fspath(output))


# ------------------------------------------------------------------ writing

def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask is process-wide and racy between threads)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


@contextlib.contextmanager
def atomic_write(path: PathLike, *, durable: bool = True) -> Iterator[IO[bytes]]:
    """A binary file object whose content replaces `path` only if the block completes.

    The temp file is created in the target's directory under an unpredictable name with
    O_CREAT | O_EXCL | O_NOFOLLOW (so no symlink or other process's file is written
    through) and mode 0o666 less the umask, as open() would give; then it is renamed over
    `path` with ``os.replace`` (a symlink at `path` is replaced, not followed). On any
    failure the temp file is removed and `path` is untouched. With `durable` (the default)
    the file is fsynced before the rename and the directory after it, so the new content
    survives a power loss once this returns; ``durable=False`` skips both (as
    safetensors, numpy and torch.save do): still never a partial file, but after a crash
    the old content, or on some filesystems an empty file, may be found instead.
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = _create_temp(directory, os.path.basename(target))
    try:
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.raw.name = tmp  # type: ignore[attr-defined]  # f.name: the temp path (a reader may check it)
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(directory)


_CREATE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_BINARY", 0))


def _create_temp(directory: str, base: str) -> tuple[int, str]:
    """A new file `.<base>.<random>.tmp` in `directory`, as tempfile.mkstemp makes it but with mode 0o666 less the
    umask (the kernel applies it), so the published file has the mode open() would give."""
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, _CREATE_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused temporary name in {directory}")


def write_bytes(path: PathLike, data: Any) -> None:
    """Write one buffer to `path` through ``atomic_write``."""
    with atomic_write(path) as f:
        f.write(data)


def check_companions(path: PathLike, names: Iterable[str], force: bool) -> list[str]:
    """The paths of `names` (files a writer creates next to `path`); without `force`, FileError OUTPUT_EXISTS if any
    of them exists already, before anything is written."""
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    paths = [os.path.join(directory, n) for n in names]
    existing = [p for p in paths if os.path.lexists(p)]
    if existing and not force:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise FileError("OUTPUT_EXISTS", f"writing {os.fspath(path)} would replace {shown}, which this command was "
                        "not asked to write; nothing was written. Choose another output name, or pass --force "
                        "(force=True) to replace them")
    return paths


def write_with(path: PathLike, produce: Callable[[str], None], companions: Iterable[str] = ()) -> None:
    """Run `produce(staged_path)` for a library that insists on writing by path, then publish atomically.

    `produce` writes the file (and any `companions`, names of sibling files it creates
    next to it, such as ONNX external data) into a private temp directory inside the
    target's directory; each file is then fsynced and renamed into place, companions
    first, so the main file never refers to a missing companion.
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    stage = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    try:
        staged = os.path.join(stage, os.path.basename(target))
        produce(staged)
        for name in [*companions, os.path.basename(target)]:
            src = os.path.join(stage, name)
            if name != os.path.basename(target) and not os.path.exists(src):
                continue
            with open(src, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(src, 0o666 & ~_umask())
            os.replace(src, os.path.join(directory, name))
        _fsync_dir(directory)
    finally:
        for name in os.listdir(stage):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(stage, name))
        os.rmdir(stage)


def _fsync_dir(directory: str) -> None:
    """Make a rename durable: fsync the directory that holds the entry (POSIX; a no-op elsewhere)."""
    try:
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
