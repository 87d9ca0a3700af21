"""The ``tensorcbor`` command line.

Each module in this package that defines ``register(subparsers)`` adds its own
sub-commands, so features (convert, conformance, streaming...) stay in their own
files. A registered parser sets ``func`` to a callable taking the parsed
arguments and returning the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from ..errors import TensorCBORError
from ..versions import version_line

# command -> the module of this package that registers it. Only that module is imported to run a command, so a
# command's start-up does not pay for the others' imports (`--version` imports none; `--help` and unknown commands
# all); a test checks this table against what the modules register.
COMMANDS: dict[str, str] = {"chunk": "stream", "conformance": "conformance", "convert": "convert", "demo": "demo",
                            "inspect": "inspect", "join": "stream"}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with a known `command`, only the module that registers it is imported."""
    parser = argparse.ArgumentParser(prog="tensorcbor", description="Tensors as compact, deterministic CBOR.")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="print the package, format and SPEC.md versions and which bundle reader runs, then exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if command == "--version":  # answered by the action itself, before any command is looked at
        names = []
    elif command in COMMANDS:
        names = [COMMANDS[command]]
    else:
        names = sorted(m.name for m in pkgutil.iter_modules(__path__))
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


class _Version(argparse.Action):
    """Two lines: the versions, then the bundle reader (compiled accelerator or pure Python) and why."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from .. import accel

        print(version_line())
        print(f"bundle reader: {accel.status()}")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every input or environment problem becomes one line on stderr, never a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:
        print("tensorcbor: interrupted", file=sys.stderr)
        return 130
    except ImportError as exc:
        return _fail(str(exc) if "pip install" in str(exc) else f"a dependency is missing: {exc}")
    except (TensorCBORError, LookupError, ValueError) as exc:
        return _fail(str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc))
    except OSError as exc:
        return _fail(describe_os_error(exc))


def _fail(message: str) -> int:
    try:
        print(f"tensorcbor: error: {message}", file=sys.stderr)
    except BrokenPipeError:  # pragma: no cover - stderr closed too
        pass
    return 1


def _quiet_broken_pipe() -> int:
    """The reader went away (``| head``): stop quietly, as cat does, and keep Python from complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover
        pass
    return 141


def describe_os_error(exc: OSError) -> str:
    """An OSError as a person reads it; a temporary file's name is replaced by its directory."""
    reason = exc.strerror or str(exc)
    name = exc.filename
    if name is None:
        return reason
    name = os.fspath(name)
    base = os.path.basename(name)
    if ".tmp-" in base or (base.startswith(".") and base.endswith(".tmp")):  # <name>.tmp-PID, .<name>.XXXX.tmp
        return f"cannot write in {os.path.dirname(name) or '.'}: {reason}"
    return f"{name}: {reason}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
