"""Browse by keypoint error: per-person joint classes, the image filter and the rings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from analysis.cache import contract as cache
from analysis.evaluation.diagnose import JOINT_CLASSES
from analysis.evaluation.store import read_evaluation
from dashboard.browse_errors import mark_joints, read_person_joint_classes, with_error
from dashboard.caches import load_keypoints
from dashboard.figures.errors import CLASS_COLORS
from tests.analysis.evaluation.test_diagnose import A_JOINTS, LEFT_WRIST, RIGHT_WRIST, _two_persons
from tests.analysis.evaluation.test_hand_made import detection, doc, evaluate


def _classes(root, key, model="m"):
    keypoints = load_keypoints(root, key)
    return read_person_joint_classes(root, key, read_evaluation(root, key, model), keypoints)


def test_swapped_wrists_mark_the_person_and_the_wrists(tmp_path: Path) -> None:
    """Person 1 detected with its wrists exchanged: an inversion at both wrists, nowhere else;
    person 2 (never detected) has no row; the filter keeps image 1 only for person 1."""
    joints = dict(A_JOINTS)
    joints[LEFT_WRIST], joints[RIGHT_WRIST] = A_JOINTS[RIGHT_WRIST], A_JOINTS[LEFT_WRIST]
    _, root, key = evaluate(tmp_path, doc(_two_persons()), [detection(1, joints, 0.9)])
    classes = _classes(root, key)
    assert classes["ann_id"].tolist() == [1]
    row = classes.iloc[0]
    inversion = JOINT_CLASSES.index("inversion")
    assert sorted(np.flatnonzero(row["classes"] == inversion).tolist()) == [LEFT_WRIST, RIGHT_WRIST]
    assert set(row["classes"][[j for j in A_JOINTS if j not in (LEFT_WRIST, RIGHT_WRIST)]]) == {0}  # good
    assert (row["classes"][[j for j in range(17) if j not in A_JOINTS]] == -1).all()  # unlabelled
    assert np.allclose(row["det_xy"][LEFT_WRIST], A_JOINTS[RIGHT_WRIST])
    assert with_error(classes, "inversion", [1, 2])["image_id"].tolist() == [1]
    assert with_error(classes, "inversion", [2]).empty  # not among the chosen persons
    assert with_error(classes, "swap", [1, 2]).empty


def test_per_person_classes_add_up_to_the_diagnosis(demo_cache: Path) -> None:
    """Over every person, the joint classes sum to `python -m analysis diagnose`'s "all" slice."""
    import subprocess
    import sys

    from tests.dashboard.dashboard_helpers import REPO

    key = cache.CacheKey("demo-small", "val")
    proc = subprocess.run([sys.executable, "-m", "analysis", "diagnose", "--name", "demo-small", "--split", "val",
                           "--cache-dir", str(demo_cache), "--json"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for doc_ in json.loads(proc.stdout):
        classes = _classes(demo_cache, key, doc_["model"])
        stacked = np.stack(classes["classes"].to_list())
        counts = {c: int((stacked == i).sum()) for i, c in enumerate(JOINT_CLASSES)}
        assert counts == doc_["slices"]["all"]["joints"]
        assert len(classes) == doc_["slices"]["all"]["matched_detections"]


def test_rings_sit_on_the_predicted_joints_of_the_class() -> None:
    """A 960 x 480 image drawn at max_side 480 (scale 0.5): a joint at (200, 100) is ringed at
    (100, 50) of the predictions half, which starts past the left half and the gap."""
    import pandas as pd

    drawn = Image.new("RGB", (2 * 480 + 6, 240), "white")
    classes = np.full(17, -1, dtype=np.int8)
    classes[3], classes[4] = JOINT_CLASSES.index("swap"), JOINT_CLASSES.index("jitter")
    xy = np.zeros((17, 2))
    xy[3], xy[4] = (200, 100), (600, 300)
    rows = pd.DataFrame({"classes": [classes], "det_xy": [xy]})
    out = np.asarray(mark_joints(drawn, rows, "swap", (960, 480))).astype(int)
    colour = np.array([int(CLASS_COLORS["swap"][i : i + 2], 16) for i in (1, 3, 5)])
    ys, xs = np.nonzero(np.abs(out - colour).sum(axis=2) < 20)
    assert len(xs) and abs(xs.mean() - (486 + 100)) < 1.5 and abs(ys.mean() - 50) < 1.5
    assert np.abs(out - 255).sum(axis=2)[:, :486].max() == 0  # nothing on the ground-truth half


def test_browse_filters_by_joint_error(app_env: Path) -> None:
    """Browse, a model chosen, small persons only, joint error "inversion": the images holding a small
    person with an inverted joint, each drawn (with the rings)."""
    import pandas as pd

    from tests.dashboard.dashboard_helpers import app, open_view, texts

    at = open_view(app({"ds": "demo-small", "bucket": "small"}), "browse")
    label = next(o for o in at.selectbox(key="br_model").options if o.startswith("synthetic-coarse"))
    at.selectbox(key="br_model").set_value(label).run()
    at.selectbox(key="br_joint_error").set_value("inversion").run()
    assert not at.exception, [e.value for e in at.exception]
    key = cache.CacheKey("demo-small", "val")
    instances = cache.read_instances(app_env, key, columns=["ann_id", "bbox_w", "bbox_h", "iscrowd"])
    small = instances["ann_id"][(instances["bbox_w"] * instances["bbox_h"] < 32.0**2) & ~instances["iscrowd"]]
    expected = with_error(_classes(app_env, key, "synthetic-coarse"), "inversion", small)["image_id"].unique()
    assert 0 < len(expected) < len(pd.read_parquet(app_env / "demo-small" / "val" / "images.parquet"))
    assert f"**{len(expected)}** images match" in texts(at)
    assert len(at.get("image")) == min(12, len(expected))
