"""A full split's results file evaluated on a subset: refused by default with a hint that
names --only-split-images; with it, the subset's images' predictions are kept, the others
counted in the note, and the numbers equal pycocotools on the subset with a hand-filtered file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.cli import main
from tests.analysis.evaluation.reference import assert_metrics_equal, build, noisy_predictions, pycocotools_slices
from tests.conftest import require_fixtures

COCO_MINI = "coco-mini/annotations/person_keypoints_val2017.json"


def test_a_full_splits_file_on_a_subset(tmp_path: Path, capsys) -> None:
    full = json.loads((require_fixtures() / COCO_MINI).read_text())
    images = [im for i, im in enumerate(full["images"]) if i % 2 == 0]
    kept_ids = {im["id"] for im in images}
    subset = {**full, "images": images, "annotations": [a for a in full["annotations"] if a["image_id"] in kept_ids]}
    root, key, _ = build(tmp_path, subset, name="mini-subset")
    preds = noisy_predictions(full, 0)
    (tmp_path / "full.json").write_text(json.dumps(preds))
    outside = sum(p["image_id"] not in kept_ids for p in preds)
    assert 0 < outside < len(preds)
    args = [
        "evaluate",
        "--name",
        key.dataset,
        "--split",
        key.split,
        "--predictions",
        str(tmp_path / "full.json"),
        "--cache-dir",
        str(root),
        "--quiet",
        "--model",
        "m",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "image_id not in mini-subset/val" in err and "--only-split-images" in err

    assert main([*args, "--only-split-images", "--json"]) == 0
    captured = capsys.readouterr()
    assert f"{outside} records of images outside the split dropped (--only-split-images)" in captured.err
    document = json.loads(captured.out)
    inside = [p for p in preds if p["image_id"] in kept_ids]
    reference = pycocotools_slices(subset, inside, np.array(document["definitions"]["sigmas"]))
    assert document["slices"]["all"]["AP"] == pytest.approx(reference["all"]["AP"], abs=1e-9)
    assert document["slices"]["all"]["AR"] == pytest.approx(reference["all"]["AR"], abs=1e-9)


def test_a_file_with_no_image_of_the_split_is_still_refused(tmp_path: Path, capsys) -> None:
    full = json.loads((require_fixtures() / COCO_MINI).read_text())
    root, key, _ = build(tmp_path, full, name="mini")
    preds = [{**p, "image_id": 10**9 + i} for i, p in enumerate(noisy_predictions(full, 0)[:5])]
    (tmp_path / "other.json").write_text(json.dumps(preds))
    assert (
        main(
            [
                "evaluate",
                "--name",
                key.dataset,
                "--split",
                key.split,
                "--predictions",
                str(tmp_path / "other.json"),
                "--cache-dir",
                str(root),
                "--quiet",
                "--only-split-images",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "no record names an image of mini/val (5 records dropped" in err


def test_the_filter_keeps_the_per_image_cut_of_the_kept_images(tmp_path: Path, capsys) -> None:
    """Images inside and outside the subset with more than 20 detections: the reader holds keypoints
    only for each image's 20 best (cut before decoding); the filter must carry them, renumbered."""
    full = json.loads((require_fixtures() / COCO_MINI).read_text())
    images = [im for i, im in enumerate(full["images"]) if i % 2 == 0]
    kept_ids = {im["id"] for im in images}
    subset = {**full, "images": images, "annotations": [a for a in full["annotations"] if a["image_id"] in kept_ids]}
    root, key, _ = build(tmp_path, subset, name="mini-subset")
    preds = noisy_predictions(full, 1)
    rng = np.random.default_rng(3)
    crowded = [full["images"][0]["id"], full["images"][1]["id"]]  # one kept, one dropped
    for image_id in crowded:
        base = [p for p in preds if p["image_id"] == image_id] or [{**preds[0], "image_id": image_id}]
        preds += [
            {
                **base[i % len(base)],
                "score": float(rng.uniform(0, 1)),
                "keypoints": [
                    v + float(rng.normal(0, 3)) if j % 3 != 2 else v
                    for j, v in enumerate(base[i % len(base)]["keypoints"])
                ],
            }
            for i in range(30)
        ]
    rng.shuffle(preds)
    (tmp_path / "full.json").write_text(json.dumps(preds))
    assert (
        main(
            [
                "evaluate",
                "--name",
                key.dataset,
                "--split",
                key.split,
                "--predictions",
                str(tmp_path / "full.json"),
                "--cache-dir",
                str(root),
                "--quiet",
                "--model",
                "m",
                "--only-split-images",
                "--json",
            ]
        )
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    inside = [p for p in preds if p["image_id"] in kept_ids]
    defs = document["definitions"]
    # the size slices compare with the tools bucketing persons by the size area used (bbox w*h by default)
    reference = pycocotools_slices(subset, inside, np.array(defs["sigmas"]), size_area=defs["size_area"])
    for name in ("all", "small", "medium", "large"):
        assert_metrics_equal(document["slices"][name], reference[name], what=name)
