"""Shared helpers of the subset and compose tests: build a cache, run the CLI, read JSON exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from analysis.build.run import build_split
from analysis.cli import main
from analysis.registry import DatasetSpec


def build(cache_root: Path, name: str, split: str, annotations: Path, **spec) -> None:
    """Build the cache of one annotation file (the real build)."""
    build_split(DatasetSpec(name, split, Path(annotations), **spec), cache_root, progress=False)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``python -m analysis ARGV`` in-process: (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def exact_json(data: bytes | str):
    """JSON with every object as a list of (key, value) pairs and every number as its text.

    Two documents compare equal only when their keys, key order and number spellings
    (``1.50`` vs ``1.5``) are the same: "copied unchanged" at the level of the text.
    """
    return json.loads(data, object_pairs_hook=list, parse_float=str, parse_int=str)


def record_id(pairs: list, key: str = "id") -> int:
    return int(dict(pairs)[key])


def ks_reference(sample: np.ndarray, reference: np.ndarray) -> float:
    """Two-sample KS statistic by a direct walk over the merged sorted values (the test's own code)."""
    a = sorted(float(x) for x in sample)
    b = sorted(float(x) for x in reference)
    i = j = 0
    best = 0.0
    while i < len(a) or j < len(b):
        value = min(a[i] if i < len(a) else np.inf, b[j] if j < len(b) else np.inf)
        while i < len(a) and a[i] == value:
            i += 1
        while j < len(b) and b[j] == value:
            j += 1
        best = max(best, abs(i / len(a) - j / len(b)))
    return best
