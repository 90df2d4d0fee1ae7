"""The summary ``make bench`` prints last: one line per figure, beside its target.

Each benchmark, when the environment variable ``POSEATLAS_BENCH_SUMMARY`` names a folder,
writes the figures it printed to ``<folder>/<benchmark>.json`` (one :class:`Record`, the
one schema of those files) with :func:`record`.  ``python -m benchmarks.summary FOLDER``
then reads every record there, in the order they were written, and prints one table:

    benchmark  what  measured  target  met

``met`` is ``yes`` / ``no``, or ``-`` for a figure that is reported without a target (a
baseline, a stage time, the server's memory) or could not be measured.  ``--expect NAMES``
(benchmark names) adds a ``no`` line for each benchmark that wrote no
record (it failed before the end, or was not run), so a crash cannot hide a missed target.
The summary's exit status is 0; ``--strict`` makes it 1 when any figure is ``no``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec

#: The folder the benchmarks write their records to (unset: they write none).
SUMMARY_ENV = "POSEATLAS_BENCH_SUMMARY"


class Figure(msgspec.Struct, frozen=True):
    """One measured figure: what it is, its value as printed, its target, whether it is met
    (``None``: reported only, or not measured)."""

    what: str
    measured: str
    target: str = ""
    met: bool | None = None


class Record(msgspec.Struct, frozen=True):
    """What one benchmark run measured: its name, the command that ran it, its figures."""

    benchmark: str
    command: str
    figures: list[Figure]


def met_at_most(value: float | None, target: float) -> bool | None:
    """``value <= target``, or ``None`` when there is no value."""
    return None if value is None else value <= target


def met_at_least(value: float | None, target: float) -> bool | None:
    """``value >= target``, or ``None`` when there is no value."""
    return None if value is None else value >= target


def fmt(value: float | None, spec: str = "{:.2f}") -> str:
    """``value`` formatted with ``spec``, or ``n/a``."""
    return "n/a" if value is None else spec.format(value)


def record(benchmark: str, figures: Sequence[Figure], folder: str | os.PathLike[str] | None = None) -> Path | None:
    """Write ``figures`` as ``<folder>/<benchmark>.json`` (``folder``: ``$POSEATLAS_BENCH_SUMMARY``);
    nothing when neither is set.  Returns the file written."""
    where = folder if folder is not None else os.environ.get(SUMMARY_ENV)
    if not where:
        return None
    out = Path(where) / f"{benchmark}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m " + " ".join([_module_name(), *sys.argv[1:]])
    data = msgspec.json.encode(Record(benchmark, command, list(figures)))
    tmp = out.with_suffix(".json.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return out


def _module_name() -> str:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec.name if spec is not None else Path(sys.argv[0]).stem


def read_records(folder: Path) -> list[Record]:
    """Every record in ``folder``, oldest file first (the order ``make bench`` ran them)."""
    files = sorted(folder.glob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return [msgspec.json.decode(p.read_bytes(), type=Record) for p in files]


def _met(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "no")


def format_table(records: Sequence[Record], expect: Sequence[str] = ()) -> str:
    """The summary table (plain text, columns padded), then a count of figures met / not met."""
    rows = [(r.benchmark, f.what, f.measured, f.target, _met(f.met)) for r in records for f in r.figures]
    seen = {r.benchmark for r in records}
    missing = [name for name in expect if name not in seen]
    rows += [(name, "(no figures: the benchmark failed or did not run)", "n/a", "", "no") for name in missing]
    header = ("benchmark", "what", "measured", "target", "met")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    verdicts = [row[4] for row in rows]
    lines.append(
        f"{verdicts.count('yes')} met, {verdicts.count('no')} not met, {verdicts.count('-')} reported without a target"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help=f"the folder the benchmarks wrote to (${SUMMARY_ENV})")
    parser.add_argument(
        "--expect", nargs="+", default=[], metavar="NAME", help="benchmark names that must have a record (or a,b,c)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure misses its target")
    args = parser.parse_args(argv)
    records = read_records(args.folder) if args.folder.is_dir() else []
    expect = [name for names in args.expect for name in names.split(",") if name]
    table = format_table(records, expect)
    print(f"\n== make bench: every figure beside its target ({args.folder}) ==")
    print(table)
    seen = {r.benchmark for r in records}
    missed = any(f.met is False for r in records for f in r.figures) or any(name not in seen for name in expect)
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
