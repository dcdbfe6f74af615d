"""Benchmark of POST /webhooks/shopify against a bare Flask app: `python bench/webhooks.py`.

Phase A: closed-loop maximum throughput of both apps under identical gunicorn settings.
Phase B: printbridge at a fixed arrival rate of half its maximum; latency from the scheduled send.
Phase C: with a worker and the sandboxes, webhook arrival to the cancel reaching Gelato.
See bench/README.md for the figures of the last run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_arguments(argv: list[str] | None, scenarios: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/webhooks.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--duration", type=float, default=8.0, help="seconds of each measured load (default 8)")
    add("--rounds", type=int, default=2, help="phase A rounds per app, alternated (default 2)")
    add("--warmup", type=float, default=2.0, help="seconds of untimed load per app (default 2)")
    add("--connections", type=int, default=16, help="phase A concurrent connections (16)")
    add("--workers", type=int, default=2, help="WEB_CONCURRENCY of both apps (default 2)")
    add("--inflight", type=int, help="webhooks run at once per worker (default: production's)")
    add("--queued", type=int, help="webhooks queued per worker (default: production's)")
    add("--orders", type=int, default=200, help="phase C cancellations (default 200)")
    add("--gelato-rate", type=float, default=10.0, help="phase C webhooks per second (10)")
    add("--scenario", action="append", choices=scenarios, help="repeatable; default: all")
    add("--skip-gelato", action="store_true", help="leave phase C out")
    add(
        "--skip-floor",
        action="store_true",
        help="leave out printbridge minus recording and queueing (bench/floor_app.py)",
    )
    add("--json-out", type=Path, help="also write every figure as JSON here")
    add("--keep-temp", action="store_true", help="keep the temp dir (logs, database)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    # `python bench/webhooks.py` puts bench/ first on sys.path, where this very file would
    # shadow printbridge's `webhooks` package: import from the repository root instead.
    sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]
    from bench.scenarios import SCENARIOS

    args = parse_arguments(argv, list(SCENARIOS))
    from bench.run import run

    try:
        report = run(args, [SCENARIOS[name] for name in args.scenario or SCENARIOS])
    except KeyboardInterrupt:
        print("\ninterrupted: every process the benchmark started was stopped", file=sys.stderr)
        return 130
    print()
    print(report.table())
    if args.json_out:
        partial = args.json_out.with_name(args.json_out.name + ".tmp")
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(report.as_json(), indent=2) + "\n")
        partial.replace(args.json_out)
        print(f"\nJSON: {args.json_out}")
    print("\nall targets met" if report.all_met else "\nMISSED: at least one target (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
