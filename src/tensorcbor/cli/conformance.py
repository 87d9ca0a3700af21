"""``tensorcbor conformance run|check|list``: the conformance suite from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..conformance.candid import read_output
from ..conformance.compare import decoded_diffs, first_byte_difference
from ..conformance.impl import BatchImpl, Impl, ImplUnavailable, ProcessImpl, PythonImpl
from ..conformance.runner import Result, run, table
from ..conformance.suite import Vector, load_suite
from ..conformance.values import decode_json

if TYPE_CHECKING:  # the IC emulation (wasmtime) is imported only when a canister is tested
    from ..conformance.canister import CanisterImpl

SUITE_HELP = ("suite directory holding manifest.json, or `stream` for the stream suite (default: "
              "$TENSORCBOR_CONFORMANCE_SUITE, else the core and extended suite shipped inside this package)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("conformance", help="run or check the conformance suite (SPEC.md §9)")
    sub = p.add_subparsers(dest="conformance_command", required=True, metavar="ACTION")

    r = sub.add_parser("run", help="check an implementation against every vector; exit 0 only if all pass")
    r.add_argument("--suite", help=SUITE_HELP)
    r.add_argument("--impl", metavar="CMD", help="external implementation speaking the adapter protocol "
                   "(conformance/README.md); default: the Python codec in process")
    r.add_argument("--batch", action="store_true", help="talk to CMD through one `CMD batch` process (JSON lines)")
    r.add_argument("--canister", metavar="WASM", help="a canister module implementing the tensorcbor_conformance "
                   "query (conformance/README.md, \"Checking a canister\"), installed under the IC emulation; the "
                   "report adds each call's IC instructions")
    r.add_argument("--canister-id", metavar="ID", help="a deployed canister implementing tensorcbor_conformance, "
                   "called through icp-cli or dfx (with --network)")
    r.add_argument("--network", metavar="URL", help="with --canister-id: the network's URL (https://icp-api.io for "
                   "the IC, http://127.0.0.1:4943 for a local replica)")
    r.add_argument("--via", choices=("icp", "dfx"), help="with --canister-id: the tool that sends the queries "
                   "(default: icp-cli if on PATH, else dfx)")
    r.add_argument("--root-key", help="with --canister-id through icp-cli: mainnet, fetch or the key in hex "
                   "(default: mainnet for the IC's URLs, else fetch)")
    r.add_argument("--lift-message-limit", action="store_true",
                   help="with --canister: send the vectors whose request exceeds the IC's 2 MiB message limit "
                        "anyway, with the emulation's limits off for those calls (default: skip them, saying so)")
    r.add_argument("--top", type=int, default=10, metavar="N",
                   help="with --canister: list the N vectors that cost the most IC instructions (default 10)")
    r.add_argument("--timeout", type=float, default=10.0, help="seconds allowed per answer (default 10)")
    r.add_argument("--profile", action="append", help="only this profile (repeatable)")
    r.add_argument("--id", dest="ids", action="append", help="only this vector id (repeatable)")
    r.add_argument("--decode-only", action="store_true", help="skip the encode checks of valid vectors")
    r.add_argument("--no-offsets", action="store_true",
                   help="do not check the byte offset of each rejection (SPEC.md §8.1), for an implementation "
                        "that reports only codes")
    r.add_argument("-v", "--verbose", action="store_true", help="list every failure, not only the first 50")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("check", help="compare one encoder output (raw, hex or Candid text) with a valid vector")
    c.add_argument("vector_id")
    c.add_argument("file", help="the output: raw bytes, hex, or `(blob \"...\")` as dfx prints it; - for stdin")
    c.add_argument("--suite", help=SUITE_HELP)
    c.set_defaults(func=cmd_check)

    ls = sub.add_parser("list", help="print the vector ids (with verdict and error code)")
    ls.add_argument("--suite", help=SUITE_HELP)
    ls.set_defaults(func=cmd_list)


def cmd_run(args: argparse.Namespace) -> int:
    suite = load_suite(args.suite)
    vectors = [v for v in suite.vectors if (not args.profile or v.profile in args.profile)
               and (not args.ids or v.id in args.ids)]
    unknown = sorted(set(args.ids or ()) - {v.id for v in suite.vectors})
    if unknown:
        print(f"tensorcbor: error: no vector {', '.join(map(repr, unknown))} in the suite at {suite.root} "
              "(`tensorcbor conformance list` prints the ids)", file=sys.stderr)
        return 2
    if not vectors:
        print("tensorcbor: error: no vectors selected (check --profile: core, extended)", file=sys.stderr)
        return 2
    targets = [o for o, given in (("--impl", args.impl), ("--canister", args.canister),
                                  ("--canister-id", args.canister_id)) if given]
    if len(targets) > 1:
        print(f"tensorcbor: error: {' and '.join(targets)} name two implementations; give one", file=sys.stderr)
        return 2
    if bool(args.canister_id) != bool(args.network):
        print("tensorcbor: error: --canister-id and --network go together (the canister and the URL of its "
              "network)", file=sys.stderr)
        return 2
    impl: Impl
    canister: CanisterImpl | None = None
    try:
        if args.impl:
            impl = BatchImpl(args.impl, args.timeout) if args.batch else ProcessImpl(args.impl, args.timeout)
        elif args.canister or args.canister_id:
            impl = canister = _canister(args)
            if not (args.canister and args.lift_message_limit):
                vectors = _within_message_limit(vectors, encode=not args.decode_only)
        else:
            impl = PythonImpl()
            vectors = _supported_here(vectors, asked=bool(args.profile))
    except ImplUnavailable as exc:
        print(f"tensorcbor: error: {exc}; nothing was tested", file=sys.stderr)
        return 2
    print(f"suite {suite.root} ({len(vectors)} vectors), implementation: {impl.name}")
    try:
        results: list[Result] = run(impl, vectors, encode=not args.decode_only, offsets=not args.no_offsets)
    except ImplUnavailable as exc:
        print(f"tensorcbor: error: {exc}; nothing was tested", file=sys.stderr)
        return 2
    print(table(results))
    if canister is not None:
        print(_costs(canister, args.top))
    failed = [r for r in results if not r.ok]
    for r in failed[: None if args.verbose else 50]:
        for f in r.failures:
            print(f"FAIL {r.vector.id}: {f}")
    if len(failed) > 50 and not args.verbose:
        print(f"... and {len(failed) - 50} more failing vectors (use -v)")
    return 1 if failed else 0


def _canister(args: argparse.Namespace) -> CanisterImpl:
    """The canister under test: a module under the IC emulation, or a deployed canister through icp-cli/dfx."""
    from ..conformance.canister import CanisterImpl

    if args.canister:
        path = Path(args.canister)
        if not path.is_file():
            raise ImplUnavailable(f"no canister module {path} (build it first: the .wasm dfx or icp-cli would "
                                  "install)")
        return CanisterImpl(path, lift_message_limit=args.lift_message_limit)
    from ..conformance.remote import RemoteCanister

    return CanisterImpl(RemoteCanister(args.canister_id, args.network, tool=args.via, root_key=args.root_key,
                                       timeout=args.timeout))


def _within_message_limit(vectors: list[Vector], encode: bool) -> list[Vector]:
    """Leave out the vectors whose request cannot be one IC message (over 2 MiB), saying which: a deployed
    canister can never receive them, so they test nothing about it."""
    from ..conformance.canister import MAX_MESSAGE, request_sizes

    kept: list[tuple[Vector, int]] = []
    over: list[tuple[Vector, int]] = []
    for v in vectors:
        size = max(request_sizes(v, encode), default=0)
        (over if size > MAX_MESSAGE else kept).append((v, size))
    for v, size in over:
        print(f"note: {v.id} skipped: its request is {size:,} bytes, over the IC's {MAX_MESSAGE:,}-byte message "
              "limit, so no canister can receive it in one message (--lift-message-limit sends it to the "
              "emulation anyway)")
    return [v for v, _ in kept]


def _costs(impl: CanisterImpl, top: int) -> str:
    """IC instructions: the total, and the vectors that cost the most (every call for a vector summed)."""
    known = [c for c in impl.calls if c.ic_instructions is not None]
    if not known:
        return "IC instructions: not known (a deployed canister's queries do not report them; run --canister WASM)"
    per = impl.cost_by_vector()
    total = sum(per.values())
    lines = [f"IC instructions: {total:,} in {len(known)} calls ({total // max(len(known), 1):,} per call on "
             f"average; the replica's cost table)"]
    ops: dict[str, list[str]] = {}
    for c in known:
        ops.setdefault(c.vid, []).append(c.op)
    ranked = sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))[:max(top, 0)]
    if ranked:
        lines.append(f"most expensive vectors ({len(ranked)}):")
        width = max(len(vid) for vid, _ in ranked)
        for vid, n in ranked:
            lines.append(f"  {vid:{width}} {n:>14,}  {' + '.join(ops[vid])}")
    return "\n".join(lines)


def _supported_here(vectors: list[Vector], asked: bool) -> list[Vector]:
    """Without zstandard this install implements only the Core profile: leave the Extended vectors out, saying so
    (unless they were asked for by --profile, when their failures are the answer)."""
    from ..compression import available

    if available() or asked:
        return vectors
    kept = [v for v in vectors if v.profile != "extended"]
    if len(kept) < len(vectors):
        print(f"note: {len(vectors) - len(kept)} Extended-profile vectors skipped: this install has no zstandard "
              "(pip install zstandard, then run again for them)")
    return kept


def cmd_check(args: argparse.Namespace) -> int:
    suite = load_suite(args.suite)
    v = suite.get(args.vector_id)
    if suite.is_stream:
        print(f"{v.id} is a stream vector; check compares encoder output with document vectors only "
              "(run the stream suite with `tensorcbor conformance run --suite stream`)", file=sys.stderr)
        return 2
    if not v.valid:
        print(f"{v.id} is an invalid vector (expected error {v.error}); check compares encoder output with "
              "valid vectors only", file=sys.stderr)
        return 2
    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    got, form = read_output(raw)
    want = v.data()
    diff = first_byte_difference(want, got)
    if diff is None:
        print(f"OK {v.id}: {len(got)} bytes ({form}) identical to the vector")
        return 0
    print(f"MISMATCH {v.id} ({form} input, {len(got)} bytes): {diff}")
    decoded = decode_json(got, v.kind)
    if "error" in decoded:
        print(f"  the output is not a valid document: {decoded.get('message', decoded['error'])}")
    else:
        for d in decoded_diffs(v.kind, v.expected, decoded) or ["decoded value equals the expected value "
                                                                 "(the encoding differs only in form)"]:
            print(f"  {d}")
    return 1


def cmd_list(args: argparse.Namespace) -> int:
    for v in load_suite(args.suite).vectors:
        print(f"{v.id}\t{v.profile}\t{v.record['verdict']}\t{v.error or ''}")
    return 0
