"""``python3 -m tensorcbor.fuzz``: run a differential campaign and print its figures."""

from __future__ import annotations

import argparse
import json
import sys

from .campaign import Report, run_campaign
from .drivers import resolve


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m tensorcbor.fuzz", description=__doc__)
    p.add_argument("--impl", action="append", default=[], metavar="SPEC",
                   help="python | python-core | python-pure | python-core-pure (accelerator off) | rust | js | "
                        "motoko | cmd:COMMAND[@core|@extended] | canister:MODULE.wasm[@core|@extended] (a canister's "
                        "tensorcbor_conformance query under the IC emulation); repeat; the first is the reference "
                        "(default: python and rust); one alone looks for crashes only")
    p.add_argument("--count", type=int, default=100_000, help="number of inputs (default 100000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=2000, help="inputs per adapter batch")
    p.add_argument("--findings", metavar="DIR", default="fuzz-findings",
                   help="where minimised reproducers and summary.json go (default fuzz-findings)")
    p.add_argument("--no-minimize", action="store_true", help="write findings as found, without delta debugging")
    p.add_argument("--no-build", action="store_true", help="use the Rust and JavaScript adapters already built")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds an adapter may take for one answer")
    p.add_argument("--streams", type=float, default=0.0, metavar="SHARE",
                   help="share of inputs that are chunk sequences for the stream adapter protocol (op \"stream\"), "
                        "e.g. 0.1; every implementation must support it (default 0)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    try:
        drivers = [resolve(s, build=not args.no_build, timeout=args.timeout) for s in (args.impl or ["python", "rust"])]
    except (RuntimeError, ValueError) as exc:
        sys.stderr.write(f"python3 -m tensorcbor.fuzz: error: {exc}\n")
        return 2
    # One implementation alone is a robustness campaign: only crashes (and, for python, failed round trips) count.

    def show(r: Report) -> None:
        if not args.quiet:
            sys.stderr.write(f"\r{r.inputs:,} inputs, {r.disagreements} disagreements, {r.crashes} crashes, "
                             f"{r.seconds:,.0f} s")
            sys.stderr.flush()

    try:
        report = run_campaign(drivers, args.count, args.seed, batch_size=args.batch, findings_dir=args.findings,
                              minimize_findings=not args.no_minimize, stream_share=args.streams,
                              progress=show)
    finally:
        for d in drivers:
            d.close()
    if not args.quiet:
        sys.stderr.write("\n")
    sys.stdout.write(json.dumps(report.summary(), indent=2) + "\n")
    for f in report.findings:
        sys.stdout.write(f"{' '.join(f.signature)}: {f.kind} {f.data.hex()}\n")
    return 1 if report.disagreements or report.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
