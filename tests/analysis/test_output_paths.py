"""Issue 19, items 1 and 2: no command writes over an input, into the cache root or outside
its output folder; every --name / --split is a plain name.  Each refusal is one line, exit 2,
no traceback, nothing written and every earlier file intact (compared byte for byte)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from analysis.errors import PoseAtlasError
from analysis.evaluation.store import list_evaluations
from analysis.output_paths import ProtectedInputs, check_output_dir, check_output_file
from tests.analysis.dataset_helpers import build, run_cli
from tests.analysis.evaluation.test_hand_made import NAMES as COCO17_JOINTS
from tests.analysis.helpers import coco_doc
from tests.analysis.test_compose import COCO_NAMES, SMALL, _doc
from tests.conftest import one_line_error


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(capsys, argv: list, *needles: str) -> str:
    return one_line_error(*run_cli(capsys, *argv), *needles)


def _doc17() -> dict:
    doc = coco_doc()
    doc["categories"][0]["keypoints"] = list(COCO17_JOINTS)
    return doc


# --------------------------------------------------------------------------- compose


def test_compose_into_the_folder_of_its_sources_is_refused(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    docs = {
        "train": _doc(COCO_NAMES, [(1, "a.jpg", [SMALL]), (2, "b.jpg", [SMALL])]),
        "val": _doc(COCO_NAMES, [(7, "v.jpg", [SMALL])]),
    }
    lines = []
    for split, doc in docs.items():
        (data / f"{split}.json").write_text(json.dumps(doc))
        build(tmp_path / "cache", "coco", split, data / f"{split}.json")
        lines += ["[[dataset]]", 'name = "coco"', f'split = "{split}"', f'annotations = "{data / split}.json"', ""]
    registry = tmp_path / "datasets.toml"
    registry.write_text("\n".join(lines))
    config = tmp_path / "c.toml"
    config.write_text('name = "c"\n[[source]]\ndataset = "coco"\ntrain = ["train"]\nval = ["val"]\n')
    before = _snapshot(tmp_path)
    line = _refused(
        capsys,
        [
            "compose",
            "--config",
            config,
            "--out",
            data,
            "--registry",
            registry,
            "--cache-dir",
            tmp_path / "cache",
            "--quiet",
        ],
        f"--out {data}",
        "train.json",
        "annotation file registered for coco/train",
        "would destroy it",
    )
    assert "choose another folder" in line
    assert _snapshot(tmp_path) == before
    # Through a symbolic link to the same folder: the same refusal.
    (tmp_path / "link").symlink_to(data)
    _refused(
        capsys,
        [
            "compose",
            "--config",
            config,
            "--out",
            tmp_path / "link",
            "--registry",
            registry,
            "--cache-dir",
            tmp_path / "cache",
            "--quiet",
        ],
        "would destroy it",
    )
    # Into the cache root: refused too.
    _refused(
        capsys,
        [
            "compose",
            "--config",
            config,
            "--out",
            tmp_path / "cache" / "x",
            "--registry",
            registry,
            "--cache-dir",
            tmp_path / "cache",
            "--quiet",
        ],
        "is inside",
        "the cache root",
    )
    assert _snapshot(tmp_path) == before
    # A good folder still works (the check refuses only what it should).
    code, _, err = run_cli(
        capsys,
        "compose",
        "--config",
        config,
        "--out",
        tmp_path / "out",
        "--registry",
        registry,
        "--cache-dir",
        tmp_path / "cache",
        "--quiet",
    )
    assert code == 0, err


# --------------------------------------------------------------------------- subset


@pytest.fixture
def subset_source(tmp_path) -> tuple[Path, Path]:
    """(cache root, out folder) where out/subset-1.json is the source of the built split ds-subset-1/val."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "subset-1.json").write_text(json.dumps(_doc17()))
    (out / "report.json").write_text("{}")
    build(tmp_path / "cache", "ds-subset-1", "val", out / "subset-1.json")
    return tmp_path / "cache", out


def test_subset_over_its_own_source_is_refused(subset_source, tmp_path, capsys):
    cache_root, out = subset_source
    before = _snapshot(tmp_path)
    _refused(
        capsys,
        [
            "subset",
            "--name",
            "ds-subset-1",
            "--split",
            "val",
            "--persons",
            "1",
            "--cache-dir",
            cache_root,
            "--out",
            out,
            "--registry",
            tmp_path / "none.toml",
            "--quiet",
        ],
        f"{out / 'subset-1.json'}",
        "the annotation file ds-subset-1/val was built from",
        "would destroy it",
    )
    assert _snapshot(tmp_path) == before  # the refused run wrote nothing
    # A hard link to the source is the source.
    linked = tmp_path / "linked"
    linked.mkdir()
    os.link(out / "subset-1.json", linked / "subset-1.json")
    before = _snapshot(tmp_path)
    _refused(
        capsys,
        [
            "subset",
            "--name",
            "ds-subset-1",
            "--split",
            "val",
            "--persons",
            "1",
            "--cache-dir",
            cache_root,
            "--out",
            linked,
            "--registry",
            tmp_path / "none.toml",
            "--quiet",
        ],
        "would destroy it",
    )
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("name", "split", "needle"),
    [
        ("../cache/cp", "val", "invalid dataset name '../cache/cp'"),
        ("ds", "../val", "invalid split name '../val'"),
        ("ds", "", "invalid split name ''"),
    ],
)
def test_subset_name_and_split_must_be_plain_names(subset_source, tmp_path, capsys, name, split, needle):
    cache_root, _ = subset_source
    registry = tmp_path / "datasets.toml"
    registry.write_text("# mine\n")
    before = _snapshot(tmp_path)
    _refused(
        capsys,
        [
            "subset",
            "--name",
            name,
            "--split",
            split,
            "--persons",
            "1",
            "--cache-dir",
            cache_root,
            "--out",
            tmp_path / "new",
            "--register",
            "--registry",
            registry,
            "--quiet",
        ],
        needle,
    )
    assert _snapshot(tmp_path) == before


def test_subset_register_refuses_a_name_too_long_once_suffixed(tmp_path, capsys):
    name = "d" * 95  # valid alone; "-subset-1" makes it 104 characters
    (tmp_path / "a.json").write_text(json.dumps(_doc17()))
    build(tmp_path / "cache", name, "val", tmp_path / "a.json")
    registry = tmp_path / "datasets.toml"
    registry.write_text("# mine\n")
    before = _snapshot(tmp_path)
    _refused(
        capsys,
        [
            "subset",
            "--name",
            name,
            "--split",
            "val",
            "--persons",
            "1",
            "--cache-dir",
            tmp_path / "cache",
            "--out",
            tmp_path / "new",
            "--register",
            "--registry",
            registry,
            "--quiet",
        ],
        f"cannot register dataset name '{name}-subset-1'",
        "at most 100 characters",
    )
    assert _snapshot(tmp_path) == before
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--seed", "-1"], "--seed must be in [0, 2^64 - --count] (got -1"),
        (["--seed", str(2**64)], f"(got {2**64}"),
        (["--seed", str(2**64 - 1), "--count", "2"], "subset k uses seed + k - 1"),
        (["--count", "1000000"], "--count must be at most 1000 (got 1000000)"),
    ],
)
def test_subset_seed_and_count_are_bounded_up_front(subset_source, tmp_path, capsys, args, needle):
    cache_root, _ = subset_source
    before = _snapshot(tmp_path)
    _refused(
        capsys,
        [
            "subset",
            "--name",
            "ds-subset-1",
            "--split",
            "val",
            "--persons",
            "1",
            "--cache-dir",
            cache_root,
            "--out",
            tmp_path / "new",
            "--quiet",
            *args,
        ],
        needle,
    )
    assert _snapshot(tmp_path) == before


def test_subset_out_that_is_a_file_is_refused(subset_source, tmp_path, capsys):
    cache_root, _ = subset_source
    (tmp_path / "afile").write_text("keep")
    _refused(
        capsys,
        [
            "subset",
            "--name",
            "ds-subset-1",
            "--split",
            "val",
            "--persons",
            "1",
            "--cache-dir",
            cache_root,
            "--out",
            tmp_path / "afile",
            "--quiet",
        ],
        "is a file, not a folder",
    )
    assert (tmp_path / "afile").read_text() == "keep"


# --------------------------------------------------------------------------- evaluate


@pytest.fixture
def evaluated_split(tmp_path):
    (tmp_path / "ds-val.json").write_text(json.dumps(_doc17()))
    build(tmp_path / "cache", "ds", "val", tmp_path / "ds-val.json")
    predictions = tmp_path / "preds.json"
    predictions.write_text(
        json.dumps([{"image_id": 1, "category_id": 1, "keypoints": [10.0, 10.0, 1.0] * 17, "score": 0.5}])
    )
    return tmp_path


def _evaluate(tmp_path: Path, *extra) -> list:
    return [
        "evaluate",
        "--name",
        "ds",
        "--split",
        "val",
        "--predictions",
        tmp_path / "preds.json",
        "--cache-dir",
        tmp_path / "cache",
        "--quiet",
        *extra,
    ]


@pytest.mark.parametrize(
    ("flag", "target", "needle"),
    [
        ("--table-csv", "ds-val.json", "the annotation file ds/val was built from"),
        ("--table-latex", "preds.json", "a predictions file of this run"),
        ("--table-csv", "cache/ds/val/manifest.json", "the cache root"),
        ("--table-latex", "cache", "the cache root"),
    ],
)
def test_evaluate_tables_never_replace_an_input(evaluated_split, capsys, flag, target, needle):
    tmp_path = evaluated_split
    before = _snapshot(tmp_path)
    line = _refused(capsys, _evaluate(tmp_path, flag, tmp_path / target), f"{flag} {tmp_path / target}", needle)
    assert "choose another file" in line
    assert _snapshot(tmp_path) == before  # nothing evaluated or stored either
    from analysis.cache.contract import CacheKey

    assert list_evaluations(tmp_path / "cache", CacheKey("ds", "val")) == []


def test_evaluate_table_that_is_a_folder_is_refused_before_the_evaluation(evaluated_split, capsys):
    tmp_path = evaluated_split
    (tmp_path / "tables").mkdir()
    before = _snapshot(tmp_path)
    _refused(capsys, _evaluate(tmp_path, "--table-csv", tmp_path / "tables"), "is a folder; give a file name")
    assert _snapshot(tmp_path) == before


def test_evaluate_name_cannot_leave_the_cache_root(evaluated_split, capsys):
    tmp_path = evaluated_split
    before = _snapshot(tmp_path)
    argv = _evaluate(tmp_path)
    argv[argv.index("ds")] = "../cacheB"
    _refused(capsys, argv, "invalid dataset name '../cacheB'")
    assert _snapshot(tmp_path) == before


def test_evaluate_writes_its_tables_where_allowed(evaluated_split, capsys):
    tmp_path = evaluated_split
    code, _, err = run_cli(capsys, *_evaluate(tmp_path, "--table-csv", tmp_path / "t" / "t5.csv"))
    assert code == 0, err
    assert (tmp_path / "t" / "t5.csv").read_text().startswith("# ds/val: ")


# --------------------------------------------------------------------------- the helper itself


def test_check_output_dir_keeps_every_name_under_the_folder(tmp_path):
    out = tmp_path / "out"
    (tmp_path / "elsewhere").mkdir()
    (out / "size").mkdir(parents=True)
    (out / "size" / "up").symlink_to(tmp_path / "elsewhere")
    nothing = ProtectedInputs()
    assert check_output_dir(out, ["size/a.png", "captions.txt"], nothing, "--out") == out
    for name in ("../x.tex", "size/../../x.csv", "/etc/x.svg", "size/up/x.svg"):
        with pytest.raises(PoseAtlasError, match="would be written outside it"):
            check_output_dir(out, [name], nothing, "--out")


def test_check_output_file_compares_resolved_paths(tmp_path):
    source = tmp_path / "a" / "train.json"
    source.parent.mkdir()
    source.write_text("{}")
    protected = ProtectedInputs.gather(inputs=[(source, "the source")])
    for spelled in (source, tmp_path / "a" / ".." / "a" / "train.json", Path(os.path.relpath(source))):
        with pytest.raises(PoseAtlasError, match="is the source"):
            check_output_file(spelled, protected, "--x")
    check_output_file(tmp_path / "a" / "other.json", protected, "--x")
