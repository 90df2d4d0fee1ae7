"""``python -m analysis subset``: whole images, exact records, person count, KS bound,
distinct and reproducible subsets, and every bad input of the issue."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import orjson
import pytest

from analysis.datasets.sampling import SplitPersons, SubsetSpec, draw_subsets, ks_distance
from benchmarks.synthetic_coco import write_synthetic_coco
from tests.analysis.dataset_helpers import build, exact_json, ks_reference, record_id, run_cli
from tests.conftest import require_fixtures


def _subset_args(cache_root: Path, out: Path, name: str, split: str, persons: int, count: int, *extra: str) -> list:
    # These tests count every non-crowd annotation (--population all); extra may name another population.
    return [
        "subset",
        "--name",
        name,
        "--split",
        split,
        "--persons",
        persons,
        "--count",
        count,
        "--cache-dir",
        cache_root,
        "--out",
        out,
        "--quiet",
        "--population",
        "all",
        *extra,
    ]


@pytest.fixture(scope="module")
def coco_mini(tmp_path_factory) -> tuple[Path, Path]:
    """(cache root, annotation file) of coco-mini val, built for real."""
    source = require_fixtures() / "coco-mini" / "annotations" / "person_keypoints_val2017.json"
    root = tmp_path_factory.mktemp("coco-mini")
    annotations = root / "val.json"
    annotations.write_bytes(source.read_bytes())
    build(root / "cache", "coco-mini", "val", annotations)
    return root / "cache", annotations


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, Path]:
    """(cache root, file) of a synthetic COCO-like split: 2,000 images, ~8,500 persons, crowds up to 30."""
    root = tmp_path_factory.mktemp("synthetic")
    annotations = root / "train.json"
    write_synthetic_coco(annotations, n_images=2000, n_persons=8600, seed=3)
    build(root / "cache", "syn", "train", annotations)
    return root / "cache", annotations


def _persons(doc: dict) -> list[dict]:
    return [a for a in doc["annotations"] if not a.get("iscrowd")]


def test_records_are_copied_unchanged_and_images_whole(coco_mini, tmp_path, capsys):
    cache_root, annotations = coco_mini
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(capsys, *_subset_args(cache_root, out, "coco-mini", "val", 59, 3))
    assert code == 0, stderr
    source = exact_json(annotations.read_bytes())
    source_top = dict(source)
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "subset-1.json", "subset-2.json", "subset-3.json"]
    for k in (1, 2, 3):
        subset = exact_json((out / f"subset-{k}.json").read_bytes())
        top = dict(subset)
        # Every top-level key in the file's order; info, licenses, categories unchanged.
        assert [key for key, _ in subset] == [key for key, _ in source]
        for key in ("info", "licenses", "categories"):
            assert top[key] == source_top[key]
        kept = {record_id(r) for r in top["images"]}
        assert kept, "a subset without images"
        # The kept image records, byte-level equal and in file order.
        assert top["images"] == [r for r in source_top["images"] if record_id(r) in kept]
        # Every annotation of a kept image (crowd regions and all), unchanged, in file order.
        assert top["annotations"] == [r for r in source_top["annotations"] if record_id(r, "image_id") in kept]
    assert "subset-1.json" in stdout and "KS" in stdout


def test_person_count_and_empty_images(coco_mini, tmp_path, capsys):
    cache_root, annotations = coco_mini
    full = orjson.loads(annotations.read_bytes())
    n_persons = len(_persons(full))
    with_persons = {a["image_id"] for a in _persons(full)}
    n_empty = sum(1 for im in full["images"] if im["id"] not in with_persons)
    wanted = n_persons // 2
    out = tmp_path / "out"
    assert run_cli(capsys, *_subset_args(cache_root, out, "coco-mini", "val", wanted, 2))[0] == 0
    report = orjson.loads((out / "report.json").read_bytes())
    for k, row in enumerate(report["subsets"], start=1):
        doc = orjson.loads((out / f"subset-{k}.json").read_bytes())
        persons = _persons(doc)
        # 0.5 % of ~59 rounds down to 0: the count must be exact.
        assert len(persons) == wanted == row["persons"]
        kept_with_persons = {a["image_id"] for a in persons}
        empty_kept = [im for im in doc["images"] if im["id"] not in kept_with_persons]
        # Images without persons are kept at the subset's rate.
        assert len(empty_kept) == round(n_empty * wanted / n_persons)
        assert row["images"] == len(doc["images"])
        areas = np.array([a["bbox"][2] * a["bbox"][3] for a in persons])
        full_areas = np.array([a["bbox"][2] * a["bbox"][3] for a in _persons(full)])
        assert row["ks"] == pytest.approx(ks_reference(areas, full_areas), abs=1e-6)


def test_ks_bound_person_tolerance_and_random_baseline(synthetic, tmp_path, capsys):
    cache_root, annotations = synthetic
    full = orjson.loads(annotations.read_bytes())
    full_areas = np.array([a["bbox"][2] * a["bbox"][3] for a in _persons(full)])
    out = tmp_path / "out"
    code, stdout, _ = run_cli(capsys, *_subset_args(cache_root, out, "syn", "train", 4000, 4))
    assert code == 0
    report = orjson.loads((out / "report.json").read_bytes())
    ours, random = [], []
    for k, row in enumerate(report["subsets"], start=1):
        doc = orjson.loads((out / f"subset-{k}.json").read_bytes())
        persons = _persons(doc)
        assert abs(len(persons) - 4000) <= 20  # 0.5 %
        ks = ks_reference(np.array([a["bbox"][2] * a["bbox"][3] for a in persons]), full_areas)
        assert ks <= 0.01
        assert row["ks"] == pytest.approx(ks, abs=1e-6)
        assert row["seed"] == k - 1
        ours.append(ks)
        random.append(row["random"]["ks"])
        assert f"{row['ks']:.4f}" in stdout and f"{row['random']['ks']:.4f}" in stdout
    # Plain random image sampling of the same size is much looser on average.
    assert np.mean(ours) < np.mean(random)


def test_random_baseline_is_plain_random_image_sampling():
    """The baseline is a prefix of a random image order: its persons are whole images
    and its KS is computed like ours (checked on a hand-made split)."""
    rng = np.random.default_rng(5)
    image_persons = rng.integers(0, 6, 500)
    person_image = np.repeat(np.arange(500), image_persons)
    area = rng.lognormal(7, 1.5, len(person_image))
    split = SplitPersons(image_persons, person_image, area)
    for drawn in draw_subsets(split, SubsetSpec(persons=600, count=3, seed=11)):
        for rows, persons, ks in (
            (drawn.image_rows, drawn.persons, drawn.ks),
            (drawn.random_image_rows, drawn.random_persons, drawn.random_ks),
        ):
            members = np.isin(person_image, rows)
            assert persons == members.sum() == image_persons[rows].sum()
            assert ks == pytest.approx(ks_reference(area[members], area), abs=1e-12)
        assert abs(drawn.random_persons - 600) <= 5  # closest prefix: within one image
        if abs(drawn.random_persons - 600) <= 3:  # the tolerance: 0.5 % of 600
            assert drawn.ks <= drawn.random_ks  # never worse than random when random qualifies


def test_near_the_full_split_never_worse_than_random():
    rng = np.random.default_rng(2)
    image_persons = rng.integers(1, 4, 3000)
    person_image = np.repeat(np.arange(3000), image_persons)
    area = rng.lognormal(7, 1.5, len(person_image))
    split = SplitPersons(image_persons, person_image, area)
    n = int(0.97 * len(area))
    methods = set()
    for drawn in draw_subsets(split, SubsetSpec(persons=n, count=6, seed=0)):
        assert abs(drawn.persons - n) <= n // 200
        members = np.isin(person_image, drawn.image_rows)
        assert drawn.persons == members.sum()
        assert drawn.ks == pytest.approx(ks_reference(area[members], area), abs=1e-12)
        if abs(drawn.random_persons - n) <= n // 200:
            assert drawn.ks <= drawn.random_ks
        methods.add(drawn.method.value)
    assert "random" in methods  # at 97 % of the split the random prefix often matches better


def test_ks_distance_against_reference():
    rng = np.random.default_rng(0)
    for n, m in ((1, 1), (5, 9), (200, 1000)):
        a = np.round(rng.normal(0, 1, n), 1)  # rounding makes ties
        b = np.round(rng.normal(0.3, 1, m), 1)
        assert ks_distance(a, b) == pytest.approx(ks_reference(a, b), abs=1e-12)
    assert ks_distance([1, 2, 3], [1, 2, 3]) == 0.0
    assert ks_distance([1, 2], [3, 4]) == 1.0


def test_distinct_and_byte_identical_reruns(synthetic, tmp_path, capsys):
    cache_root, _ = synthetic
    first, second, single = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out in (first, second):
        assert run_cli(capsys, *_subset_args(cache_root, out, "syn", "train", 3000, 3, "--seed", "7"))[0] == 0
    for name in ("subset-1.json", "subset-2.json", "subset-3.json", "report.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    kept = [
        frozenset(im["id"] for im in orjson.loads((first / f"subset-{k}.json").read_bytes())["images"])
        for k in (1, 2, 3)
    ]
    assert len(set(kept)) == 3
    # Subset k of seed S is subset 1 of seed S + k - 1.
    assert run_cli(capsys, *_subset_args(cache_root, single, "syn", "train", 3000, 1, "--seed", "8"))[0] == 0
    assert (single / "subset-1.json").read_bytes() == (first / "subset-2.json").read_bytes()


def test_subset_builds_in_poseatlas(coco_mini, tmp_path, capsys):
    cache_root, _ = coco_mini
    out = tmp_path / "out"
    assert run_cli(capsys, *_subset_args(cache_root, out, "coco-mini", "val", 40, 1))[0] == 0
    build(tmp_path / "cache2", "coco-mini-subset", "val", out / "subset-1.json")
    manifest = json.loads((tmp_path / "cache2" / "coco-mini-subset" / "val" / "manifest.json").read_text())
    assert manifest["counts"]["persons"] == 40


# --- bad input: one line, exit 2, nothing written ----------------------------------------


def _assert_refused(capsys, argv: list, out: Path, *needles: str, before: dict | None = None) -> None:
    code, _, stderr = run_cli(capsys, *argv)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in stderr
    after = {p.name: p.read_bytes() for p in out.iterdir()} if out.exists() else {}
    assert after == (before or {}), "something was written or an earlier result changed"


def test_more_persons_than_the_split_has(coco_mini, tmp_path, capsys):
    cache_root, annotations = coco_mini
    n_persons = len(_persons(orjson.loads(annotations.read_bytes())))
    out = tmp_path / "out"
    _assert_refused(
        capsys,
        _subset_args(cache_root, out, "coco-mini", "val", n_persons + 1, 1),
        out,
        str(n_persons + 1),
        str(n_persons),
    )


@pytest.mark.parametrize(("persons", "count", "needle"), [(10, 0, "--count"), (10, -2, "--count"), (0, 1, "--persons")])
def test_bad_counts(coco_mini, tmp_path, capsys, persons, count, needle):
    cache_root, _ = coco_mini
    out = tmp_path / "out"
    _assert_refused(capsys, _subset_args(cache_root, out, "coco-mini", "val", persons, count), out, needle)


def test_changed_annotation_file_keeps_an_earlier_result(tmp_path, capsys):
    source = require_fixtures() / "coco-mini" / "annotations" / "person_keypoints_train2017.json"
    annotations = tmp_path / "train.json"
    annotations.write_bytes(source.read_bytes())
    cache_root = tmp_path / "cache"
    build(cache_root, "cm", "train", annotations)
    out = tmp_path / "out"
    argv = _subset_args(cache_root, out, "cm", "train", 80, 2)
    assert run_cli(capsys, *argv)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    # Same size, one digit changed, mtime moved on: only the SHA-256 can tell.
    data = bytearray(source.read_bytes())
    at = data.index(b'"width": ') + len(b'"width": ')
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    annotations.write_bytes(bytes(data))
    os.utime(annotations, ns=(annotations.stat().st_atime_ns, annotations.stat().st_mtime_ns + 10**9))
    _assert_refused(capsys, argv, out, str(annotations), "changed", "rebuild", before=before)

    annotations.write_bytes(source.read_bytes() + b"\n")  # another size
    _assert_refused(capsys, argv, out, "changed", before=before)

    annotations.unlink()
    _assert_refused(capsys, argv, out, str(annotations), before=before)


def test_touched_but_unchanged_file_is_accepted(coco_mini, tmp_path, capsys):
    cache_root, annotations = coco_mini
    stat = annotations.stat()
    os.utime(annotations, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5 * 10**9))
    assert run_cli(capsys, *_subset_args(cache_root, tmp_path / "out", "coco-mini", "val", 30, 1))[0] == 0


def test_split_not_built_and_missing_segm_area(tmp_path, capsys):
    out = tmp_path / "out"
    _assert_refused(capsys, _subset_args(tmp_path / "cache", out, "nope", "val", 10, 1), out, "nope/val", "not built")
    crowdpose = require_fixtures() / "mmpose" / "crowdpose" / "test_crowdpose.json"
    build(tmp_path / "cache", "crowdpose", "test", crowdpose)
    _assert_refused(
        capsys,
        _subset_args(tmp_path / "cache", out, "crowdpose", "test", 3, 1, "--area-source", "segm"),
        out,
        "segmentation area",
    )


def test_whole_images_cannot_reach_the_count(tmp_path, capsys):
    # Two images with ten persons each: 15 persons need half an image.
    doc = {
        "images": [{"id": i, "file_name": f"{i}.jpg", "width": 100, "height": 100} for i in (1, 2)],
        "annotations": [
            {
                "id": 10 * i + j,
                "image_id": i,
                "category_id": 1,
                "iscrowd": 0,
                "bbox": [0, 0, 10 + j, 10],
                "keypoints": [1, 1, 2],
            }
            for i in (1, 2)
            for j in range(10)
        ],
        "categories": [{"id": 1, "name": "person", "keypoints": ["nose"]}],
    }
    annotations = tmp_path / "two.json"
    annotations.write_text(json.dumps(doc))
    build(tmp_path / "cache", "two", "val", annotations)
    out = tmp_path / "out"
    _assert_refused(capsys, _subset_args(tmp_path / "cache", out, "two", "val", 15, 1), out, "whole images", "15")
    # All persons, two subsets: they cannot differ.
    _assert_refused(capsys, _subset_args(tmp_path / "cache", out, "two", "val", 20, 2), out, "identical")


# --- registering the subsets -------------------------------------------------------------


def test_register_makes_subsets_buildable_in_one_step(tmp_path, capsys):
    source = require_fixtures() / "coco-mini" / "annotations" / "person_keypoints_val2017.json"
    registry = tmp_path / "data" / "datasets.toml"
    registry.parent.mkdir()
    registry.write_text(
        f'# my datasets\n[[dataset]]\nname = "cm"\nsplit = "val"\nannotations = "{source}"\n'
        'source = { field = "file_name", pattern = "^(0000)" }\n'
    )
    cache_root = tmp_path / "cache"
    assert run_cli(capsys, "build", "--registry", registry, "--cache-dir", cache_root, "--quiet")[0] == 0
    out = tmp_path / "subsets"
    code, stdout, _ = run_cli(
        capsys, *_subset_args(cache_root, out, "cm", "val", 50, 2, "--register", "--registry", registry)
    )
    assert code == 0
    text = registry.read_text()
    assert text.startswith("# my datasets\n")  # the user's file kept
    assert "--only cm-subset-1/val --only cm-subset-2/val" in stdout
    code, stdout, stderr = run_cli(capsys, "build", "--registry", registry, "--cache-dir", cache_root, "--quiet")
    assert code == 0, stderr
    for k in (1, 2):
        manifest = json.loads((cache_root / f"cm-subset-{k}" / "val" / "manifest.json").read_text())
        assert manifest["counts"]["persons"] == 50
        assert manifest["options"]["source_rule"] == {"field": "file_name", "pattern": "^(0000)"}
        assert Path(manifest["inputs"]["annotations"]["path"]) == (out / f"subset-{k}.json").resolve()
    # Registering again is a no-op; another folder under the same names is refused before writing.
    again = _subset_args(cache_root, out, "cm", "val", 50, 2, "--register", "--registry", registry)
    assert run_cli(capsys, *again)[0] == 0
    assert registry.read_text() == text
    other = tmp_path / "other"
    _assert_refused(
        capsys,
        _subset_args(cache_root, other, "cm", "val", 50, 2, "--register", "--registry", registry),
        other,
        "cm-subset-1/val",
        "registered already",
    )


def test_without_register_a_valid_snippet_is_printed(coco_mini, tmp_path, capsys):
    from analysis.registry import load_registry

    cache_root, _ = coco_mini
    registry = tmp_path / "datasets.toml"
    code, stdout, _ = run_cli(
        capsys, *_subset_args(cache_root, tmp_path / "out", "coco-mini", "val", 30, 2, "--registry", registry)
    )
    assert code == 0 and not registry.exists()
    registry.write_text(stdout.split("--register):\n", 1)[1])
    specs = load_registry(registry)
    assert [(s.name, s.split) for s in specs] == [("coco-mini-subset-1", "val"), ("coco-mini-subset-2", "val")]
    assert specs[1].annotations.resolve() == (tmp_path / "out" / "subset-2.json").resolve()


def test_area_sources(coco_mini, tmp_path, capsys):
    """segm uses the COCO 'area' field; crowdpose (0.53 w h) ranks persons as bbox does."""
    cache_root, annotations = coco_mini
    full = orjson.loads(annotations.read_bytes())
    reports = {}
    for source in ("segm", "bbox", "crowdpose"):
        out = tmp_path / source
        argv = _subset_args(cache_root, out, "coco-mini", "val", 50, 1, "--area-source", source)
        assert run_cli(capsys, *argv)[0] == 0
        reports[source] = orjson.loads((out / "report.json").read_bytes())
        assert reports[source]["area_source"] == source
    kept = {im["id"] for im in orjson.loads((tmp_path / "segm" / "subset-1.json").read_bytes())["images"]}
    segm = np.array([a["area"] for a in _persons(full) if a["image_id"] in kept])
    assert reports["segm"]["subsets"][0]["ks"] == pytest.approx(
        ks_reference(segm, np.array([a["area"] for a in _persons(full)])), abs=1e-6
    )
    assert (tmp_path / "bbox" / "subset-1.json").read_bytes() == (tmp_path / "crowdpose" / "subset-1.json").read_bytes()
