"""Issue 19, item 5: the evaluate inputs that gave tracebacks, hangs or silent nonsense.
Each is one line naming the file or option and the problem, exit 2, nothing stored; and
what the build reads (gzip, a UTF-8 byte-order mark) is read here too, with the same results."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from analysis.cache.contract import CacheKey
from analysis.evaluation.store import list_evaluations
from tests.analysis.dataset_helpers import build, run_cli
from tests.analysis.evaluation.test_hand_made import NAMES as COCO17_JOINTS
from tests.analysis.helpers import coco_doc
from tests.conftest import one_line_error

KEY = CacheKey("ds", "val")
GOOD = [
    {"image_id": 1, "category_id": 1, "keypoints": [10.0, 10.0, 1.0] * 17, "score": 0.5},
    {"image_id": 2, "category_id": 1, "keypoints": [30.0, 40.0, 1.0] * 17, "score": 0.7},
]


@pytest.fixture
def split(tmp_path) -> Path:
    doc = coco_doc()
    doc["categories"][0]["keypoints"] = list(COCO17_JOINTS)
    (tmp_path / "ds-val.json").write_text(json.dumps(doc))
    build(tmp_path / "cache", "ds", "val", tmp_path / "ds-val.json")
    (tmp_path / "good.json").write_text(json.dumps(GOOD))
    return tmp_path


def _evaluate(capsys, tmp_path: Path, predictions: Path, *extra) -> tuple[int, str, str]:
    return run_cli(
        capsys,
        "evaluate",
        "--name",
        "ds",
        "--split",
        "val",
        "--predictions",
        predictions,
        "--cache-dir",
        tmp_path / "cache",
        "--quiet",
        *extra,
    )


def _refused(capsys, tmp_path, predictions, *extra, needles=()) -> str:
    before = [r.model for r in list_evaluations(tmp_path / "cache", KEY)]
    line = one_line_error(*_evaluate(capsys, tmp_path, predictions, *extra), *needles)
    assert [r.model for r in list_evaluations(tmp_path / "cache", KEY)] == before
    return line


RECORD = GOOD[0]
BAD_FILES = {
    "deep nesting": ("[" * 100_000 + "]" * 100_000, ["not valid JSON", "recursion"]),
    "deep keypoints": (
        json.dumps([{**RECORD, "keypoints": 0}]).replace("0}", "[" * 50_000 + "]" * 50_000 + "}"),
        ["record 0 (image_id=1)", "'keypoints' must be a list of numbers"],
    ),
    "image_id 2^64": (
        json.dumps([{**RECORD, "image_id": 2**64}]),
        ["record 0", f"'image_id' {2**64} is beyond the 64-bit integer range"],
    ),
    "empty file": ("", ["empty file"]),
    "coordinate 1e308": (
        json.dumps([{**RECORD, "keypoints": [1e308, 10.0, 1.0] * 17}]),
        ["record 0 (image_id=1)", "coordinate beyond +-1e+09 px"],
    ),
    "utf-16": (None, ["UTF-16 text, not UTF-8", "iconv -f UTF-16 -t UTF-8"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_predictions_files(split, capsys, case):
    text, needles = BAD_FILES[case]
    path = split / "bad.json"
    if text is None:
        path.write_bytes(json.dumps(GOOD).encode("utf-16"))
    else:
        path.write_text(text)
    line = _refused(capsys, split, path, needles=needles)
    assert str(path) in line


def test_gzip_and_byte_order_mark_read_as_the_plain_file(split, capsys):
    plain = json.dumps(GOOD).encode()
    (split / "gz.json.gz").write_bytes(gzip.compress(plain))
    (split / "bom.json").write_bytes(b"\xef\xbb\xbf" + plain)
    results = {}
    for name in ("good.json", "gz.json.gz", "bom.json"):
        code, out, err = _evaluate(capsys, split, split / name, "--model", name.split(".")[0], "--json")
        assert code == 0, err
        doc = json.loads(out)
        results[name] = doc["slices"]
    assert results["gz.json.gz"] == results["good.json"] == results["bom.json"]
    assert results["good.json"]["all"]["n_gt"] > 0
    kept = {r.model: r.counts.kept for r in list_evaluations(split / "cache", KEY)}
    assert kept == {"good": 2, "gz": 2, "bom": 2}


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--edges", "1e200,1e201"], ["--edges 1e200,1e201: side lengths must be in [0.01, 100000] px"]),
        (["--edges", "1e-200,1e-190"], ["side lengths must be in"]),
        (["--model", "m" * 300], ["a model label has at most 100 characters (got 300)"]),
        (["--model", ""], ["--model '': a model label needs at least one letter or digit"]),
        (["--model", ".."], ["--model '..': a model label needs at least one letter or digit"]),
    ],
)
def test_bad_options(split, capsys, extra, needles):
    _refused(capsys, split, split / "good.json", *extra, needles=needles)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[" * 100_000 + "]" * 100_000, "sigmas must be a JSON list of numbers"),
        (json.dumps([1e-320] * 17), "sigmas must be finite numbers of at least 1e-06"),
        (json.dumps([True] * 17), "no strings, booleans or nested lists"),
        (json.dumps(["0.1"] * 17), "no strings, booleans or nested lists"),
    ],
)
def test_bad_sigma_files(split, capsys, text, needle):
    (split / "sigmas.json").write_text(text)
    line = _refused(capsys, split, split / "good.json", "--sigmas", split / "sigmas.json", needles=[needle])
    assert str(split / "sigmas.json") in line


def test_labels_differing_in_case_or_punctuation_do_not_share_a_stored_evaluation(split, capsys):
    code, _, err = _evaluate(capsys, split, split / "good.json", "--model", "ResNet 50")
    assert code == 0, err
    stored = (split / "cache/ds/val/evaluations/resnet-50/evaluation.json").read_bytes()
    for other in ("resnet-50", "RESNET_50".replace("_", " "), "resnet--50"):
        _refused(
            capsys,
            split,
            split / "good.json",
            "--model",
            other,
            needles=[
                f"--model {other!r}",
                "already stores an evaluation labelled 'ResNet 50'",
                "give --model 'ResNet 50' to replace it",
            ],
        )
    assert (split / "cache/ds/val/evaluations/resnet-50/evaluation.json").read_bytes() == stored
    code, _, err = _evaluate(capsys, split, split / "good.json", "--model", "ResNet 50")
    assert code == 0, err  # the stored label itself is fine
