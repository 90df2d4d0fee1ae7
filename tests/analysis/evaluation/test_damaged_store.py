"""Issue 19, item 3: a damaged stored evaluation is reported as such, never used, named
by info and the dashboard loaders, and replaced by the next ``evaluate``; the stored
SHA-256 is that of the bytes decoded; FIFOs and folders are refused, not opened."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from analysis.cache.contract import CacheKey
from analysis.definitions import SizeDefinition
from analysis.errors import PoseAtlasError
from analysis.evaluation import store
from analysis.evaluation.definitions import DetectionArea
from analysis.info import info_lines
from tests.analysis.dataset_helpers import build, run_cli
from tests.analysis.evaluation.test_hand_made import NAMES as COCO17_JOINTS
from tests.analysis.helpers import coco_doc

KEY = CacheKey("ds", "val")


def _predictions(n: int, x: float = 10.0) -> list[dict]:
    return [
        {"image_id": 1 + i % 2, "category_id": 1, "keypoints": [x + i, 10.0, 1.0] * 17, "score": 0.1 + i / (2 * n)}
        for i in range(n)
    ]


@pytest.fixture
def evaluated(tmp_path, capsys) -> Path:
    doc = coco_doc()
    doc["categories"][0]["keypoints"] = list(COCO17_JOINTS)
    (tmp_path / "ds-val.json").write_text(json.dumps(doc))
    build(tmp_path / "cache", "ds", "val", tmp_path / "ds-val.json")
    for name, n in (("good", 3), ("bad", 4)):
        (tmp_path / f"{name}.json").write_text(json.dumps(_predictions(n)))
        code, _, err = run_cli(capsys, *_evaluate(tmp_path, name))
        assert code == 0, err
    return tmp_path


def _evaluate(tmp_path: Path, name: str) -> list:
    return [
        "evaluate",
        "--name",
        "ds",
        "--split",
        "val",
        "--predictions",
        tmp_path / f"{name}.json",
        "--cache-dir",
        tmp_path / "cache",
        "--quiet",
    ]


def _folder(tmp_path: Path, model: str = "bad") -> Path:
    return store.evaluations_dir(tmp_path / "cache", KEY) / model


def _truncate(folder: Path) -> None:
    path = folder / store.DETECTIONS_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _delete_oks(folder: Path) -> None:
    (folder / store.OKS_FILE).unlink()


def _oks_over_detections(folder: Path) -> None:
    shutil.copyfile(folder / store.OKS_FILE, folder / store.DETECTIONS_FILE)


def _fewer_oks_rows(folder: Path) -> None:  # a readable file of the right columns, other rows
    table = pq.read_table(folder / store.OKS_FILE)
    pq.write_table(table.slice(0, table.num_rows - 1), folder / store.OKS_FILE)


def _bad_size_edges(folder: Path) -> None:
    record = json.loads((folder / store.RECORD_FILE).read_text())
    record["definitions"]["size_edges"] = [9216.0, 1024.0]
    (folder / store.RECORD_FILE).write_text(json.dumps(record))


def _no_sigmas(folder: Path) -> None:  # a field missing: the record still reads, as damaged
    record = json.loads((folder / store.RECORD_FILE).read_text())
    del record["definitions"]["sigmas"]
    (folder / store.RECORD_FILE).write_text(json.dumps(record))


def _unknown_sigma_source(folder: Path) -> None:
    record = json.loads((folder / store.RECORD_FILE).read_text())
    record["definitions"]["sigma_source"] = "guessed"
    (folder / store.RECORD_FILE).write_text(json.dumps(record))


DAMAGES = {
    "truncated detections": (_truncate, "detections.parquet unreadable"),
    "missing oks": (_delete_oks, "oks.parquet missing"),
    "oks copied over detections": (_oks_over_detections, "detections.parquet has columns det_id, ann_id, oks"),
    "oks rows": (_fewer_oks_rows, "evaluation.json recorded"),
    "size edges": (_bad_size_edges, "evaluation.json: invalid definitions"),
    "no sigmas": (_no_sigmas, "invalid definitions (Object missing required field `sigmas`"),
    "unknown sigma source": (_unknown_sigma_source, "Invalid enum value 'guessed' - at `$.sigma_source`"),
}


def test_a_record_written_before_detection_area_reads_with_the_reference_area(evaluated):
    """Records of earlier versions have no ``detection_area``: they read (not damaged) with
    the reference tools' keypoint box, and are rewritten with every key of today's."""
    folder = _folder(evaluated, "good")
    record = json.loads((folder / store.RECORD_FILE).read_text())
    assert record["definitions"].pop("detection_area") == "keypoint-box"
    (folder / store.RECORD_FILE).write_text(json.dumps(record))
    (old,) = [r for r in store.list_evaluations(evaluated / "cache", KEY) if r.model == "good"]
    assert old.damaged is None and not old.stale
    stored = store.read_evaluation(evaluated / "cache", KEY, "good")
    assert stored.definitions.detection_area is DetectionArea.KEYPOINT_BOX
    assert stored.definitions.to_json() == {**record["definitions"], "detection_area": "keypoint-box"}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_evaluation_is_named_skipped_and_redone(evaluated, capsys, damage):
    tmp_path = evaluated
    damage_fn, problem = DAMAGES[damage]
    damage_fn(_folder(tmp_path))
    records = {r.model: r for r in store.list_evaluations(tmp_path / "cache", KEY)}
    assert records["good"].damaged is None
    assert problem in records["bad"].damaged
    # info names it; the good model is listed as usual.
    lines = info_lines(tmp_path / "none.toml", tmp_path / "cache")
    bad_line = next(line for line in lines if "evaluation: bad" in line)
    assert "DAMAGED" in bad_line and problem in bad_line and "evaluate again" in bad_line
    assert any("evaluation: good: AP" in line for line in lines)
    # Reading it is one PoseAtlasError naming the folder and the fix, never a pyarrow traceback.
    with pytest.raises(store.DamagedEvaluationError, match="evaluate on its predictions file again"):
        store.read_evaluation(tmp_path / "cache", KEY, "bad")
    # The dashboard's loader (Models view, export) skips it with one named line; the good one loads.
    from dashboard.evaluations import find_models
    from dashboard.exports.models import evaluated as load_models

    entries = find_models(tmp_path / "cache", [KEY])
    state = SimpleNamespace(
        root=tmp_path / "cache", filters=SimpleNamespace(size=SizeDefinition()), label=lambda name: name
    )  # no display names here
    chosen = load_models(state, entries)
    assert [m.result.model for m in chosen.models] == ["good"]
    assert len(chosen.errors) == 1 and "stored evaluation of 'bad'" in chosen.errors[0]
    assert problem in chosen.errors[0]
    # The next evaluate re-evaluates it (not "reused") and the store is whole again.
    code, out, err = run_cli(capsys, *_evaluate(tmp_path, "bad"))
    assert code == 0, err
    assert "stored result reused" not in out
    again = {r.model: r for r in store.list_evaluations(tmp_path / "cache", KEY)}
    assert again["bad"].damaged is None and again["bad"].counts.kept == 4
    assert len(store.read_evaluation(tmp_path / "cache", KEY, "bad").detections) == 4


def test_the_record_holds_the_hash_of_the_bytes_evaluated(evaluated, capsys, monkeypatch):
    """A predictions file replaced again and again during the runs (the race of the issue:
    3 of 25 runs stored one file's hash beside the other's results): every stored SHA-256
    is that of the bytes that were decoded."""
    import hashlib

    from analysis.evaluation import run as run_module

    tmp_path = evaluated
    path = tmp_path / "race.json"
    pad = b" " * 2_000_000  # JSON whitespace: hashing and reading take long enough for the writer to interleave
    versions = [json.dumps(_predictions(3)).encode() + pad, json.dumps(_predictions(5, x=40.0)).encode() + pad]
    for i, data in enumerate(versions):
        (tmp_path / f"v{i}").write_bytes(data)
    path.write_bytes(versions[0])
    decoded: list[bytes] = []
    real_read = run_module.read_predictions

    def capture(file, data, *args, **kwargs):
        decoded.append(bytes(data))
        return real_read(file, data, *args, **kwargs)

    monkeypatch.setattr(run_module, "read_predictions", capture)
    stop = threading.Event()

    def flip() -> None:  # whole-file replacements, as an editor or a copy would do
        i = 0
        while not stop.is_set():
            i += 1
            shutil.copyfile(tmp_path / f"v{i % 2}", tmp_path / "next.tmp")
            os.replace(tmp_path / "next.tmp", path)

    writer = threading.Thread(target=flip, daemon=True)
    writer.start()
    try:
        for n in range(12):
            decoded.clear()
            code, _, err = run_cli(capsys, *_evaluate(tmp_path, "race")[:-1], "--model", f"race{n}", "--quiet")
            assert code == 0 or "changed while it was read" in err, err
            if code == 0 and decoded:
                record = store.find_record(tmp_path / "cache", KEY, f"race{n}")
                assert record.predictions.sha256 == hashlib.sha256(decoded[-1]).hexdigest()
                assert record.counts.records == (3 if decoded[-1] == versions[0] else 5)
    finally:
        stop.set()
        writer.join()


def test_fifo_and_folder_predictions_are_refused_without_opening(evaluated, capsys):
    tmp_path = evaluated
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    (tmp_path / "folder.json").mkdir()
    for name, needle in (("fifo", "not a regular file (a pipe or device)"), ("folder", "is a folder")):
        done = threading.Event()
        result: list = []

        def go(name=name, result=result, done=done):
            result.append(run_cli(capsys, *_evaluate(tmp_path, name)))
            done.set()

        thread = threading.Thread(target=go, daemon=True)
        thread.start()
        if not done.wait(60):
            with open(fifo, "wb"):  # unblock the reader so the test process can end
                pass
            pytest.fail(f"evaluate --predictions {name} hung")
        code, _, err = result[0]
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    assert store.find_record(tmp_path / "cache", KEY, "fifo") is None


def test_errors_are_poseatlas_errors():
    assert issubclass(store.DamagedEvaluationError, PoseAtlasError)
