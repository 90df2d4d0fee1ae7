"""Predictions' keypoints read by the numpy number parser equal the typed decode's, bit for bit.

Real number text (the fixtures' annotation keypoints, spliced byte for byte into results
files) and generated text (decimals, negatives, -0, exponents and long mantissas that make
the parser refuse a piece) are read three ways: by ``read_predictions``, by its typed path
alone (the parser switched off), and by Python's ``json`` (an independent decoder).
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np
import pytest

import analysis.evaluation.predictions as predictions_module
from analysis.errors import AnnotationError
from analysis.evaluation.predictions import read_predictions
from tests.conftest import require_fixtures

FIXTURE_FILES = [
    "coco-mini/annotations/person_keypoints_val2017.json",
    "coco-mini/annotations/person_keypoints_train2017.json",
    "mmpose/coco/test_coco.json",
    "mmpose/crowdpose/test_crowdpose.json",
    "mmpose/jhmdb/test_jhmdb_sub1.json",
    "mmpose/mhp/test_mhp.json",
    "mmpose/h36m/h36m_coco.json",
    "xtcocoapi/example_crowdpose_val.json",
]


class _RawAnnotation(msgspec.Struct):
    image_id: int
    keypoints: msgspec.Raw


class _RawFile(msgspec.Struct):
    annotations: list[_RawAnnotation]


def _results_from_fixture(path: Path) -> tuple[bytes, int]:
    """A results file whose keypoints are the fixture's annotation keypoints, their JSON
    text copied byte for byte (its K is the first annotation's)."""
    annotations = msgspec.json.decode(path.read_bytes(), type=_RawFile).annotations
    n_values = len(json.loads(bytes(annotations[0].keypoints)))
    records = [
        b'{"image_id": %d, "category_id": 1, "keypoints": %s, "score": %s}'
        % (a.image_id, bytes(a.keypoints), str(0.5 + i % 7 / 16).encode())
        for i, a in enumerate(annotations)
        if len(json.loads(bytes(a.keypoints))) == n_values
    ]
    return b"[" + b",\n".join(records) + b"]", n_values // 3


def _counting_parser(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the parser's accepted and refused pieces (it still runs)."""
    counts = {"accepted": 0, "refused": 0}
    parse = predictions_module.parse_number_arrays

    def counted(records: list[msgspec.Raw]) -> object:
        result = parse(records)
        counts["accepted" if result is not None else "refused"] += 1
        return result

    monkeypatch.setattr(predictions_module, "parse_number_arrays", counted)
    return counts


def _typed_only(path: Path, data: bytes, n_joints: int) -> np.ndarray:
    """The keypoints as the typed decode alone reads them (the parser refusing everything)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(predictions_module, "parse_number_arrays", lambda records: None)
        return read_predictions(path, data, n_joints, 1).keypoints


def _assert_bit_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype == np.float64
    np.testing.assert_array_equal(actual.view(np.uint64), expected.view(np.uint64))  # -0.0 != 0.0 here


def _assert_like_typed_and_json(path: Path, data: bytes, n_joints: int) -> np.ndarray:
    keypoints = read_predictions(path, data, n_joints, 1).keypoints
    _assert_bit_equal(keypoints, _typed_only(path, data, n_joints))
    by_json = np.array([r["keypoints"] for r in json.loads(data)], np.float64).reshape(-1, n_joints, 3)
    _assert_bit_equal(keypoints, by_json)
    return keypoints


@pytest.mark.parametrize("relative", FIXTURE_FILES)
def test_fixture_keypoint_text_reads_like_the_typed_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: str
) -> None:
    data, n_joints = _results_from_fixture(require_fixtures() / relative)
    monkeypatch.setattr(predictions_module, "KEYPOINT_PARSE_RECORDS", 16)  # several pieces per file
    counts = _counting_parser(monkeypatch)
    _assert_like_typed_and_json(tmp_path / "p.json", data, n_joints)
    assert counts["accepted"] + counts["refused"] >= 1


def test_coco_mini_is_read_by_the_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real COCO keypoint text is what the parser reads exactly (every piece accepted)."""
    data, n_joints = _results_from_fixture(require_fixtures() / FIXTURE_FILES[0])
    monkeypatch.setattr(predictions_module, "KEYPOINT_PARSE_RECORDS", 16)
    counts = _counting_parser(monkeypatch)
    keypoints = _assert_like_typed_and_json(tmp_path / "p.json", data, n_joints)
    assert counts == {"accepted": -(-len(keypoints) // 16), "refused": 0}


def _generated_values(rng: np.random.Generator, n: int, large: bool) -> list[str]:
    """JSON number text the parser reads exactly: integers, decimals of 0 to 15 fraction
    digits, negatives, -0 and -0.0, and when ``large`` 18-digit integers and mantissas just
    under 2**53 (beyond MAX_COORDINATE: only in the keypoints' third values)."""
    kinds = rng.choice([0, 1, 2, 3, 4, 5] if large else [0, 1, 2, 5], n)
    magnitude = rng.uniform(-2000, 2000, n)
    digits = rng.integers(0, 12, n)  # with 4 integer digits: at most 15 digits, as a double holds
    texts = []
    for kind, value, k in zip(kinds.tolist(), magnitude.tolist(), digits.tolist(), strict=True):
        if kind == 0:
            texts.append(str(int(value)))
        elif kind == 1:
            texts.append(f"{value:.{k}f}")
        elif kind == 2:
            texts.append(rng.choice(["-0", "0", "-0.0", "0.0", "-0.000", "0.5", "-0.5"]))
        elif kind == 3:
            texts.append(str(int(rng.integers(-(10**18) + 1, 10**18))))
        elif kind == 4:
            texts.append(f"{rng.integers(2**53 - 10_000, 2**53 - 2000)}"[:-3] + "." + f"{rng.integers(0, 999):03d}")
        else:
            texts.append(f"{value:.2f}")
    return texts


def _file(records: list[list[str]]) -> bytes:
    """A results file of these keypoint values (5 records per image)."""
    return _file_of_text(["[" + ", ".join(values) + "]" for values in records])


def _file_of_text(keypoint_texts: list[str]) -> bytes:
    lines = [
        f'{{"image_id": {i // 5 + 1}, "keypoints": {text}, "score": 0.{i % 9 + 1}}}'
        for i, text in enumerate(keypoint_texts)
    ]
    return ("[" + ",\n".join(lines) + "]").encode()


#: a float32 as Python writes it (numpy -> tolist -> json, as pose toolkits write results)
#: has up to 17 significant digits: beyond an exact double's 2**53, refused like the others
@pytest.mark.parametrize(
    "refusing", [None, "1e2", "-1.5E-3", "0.12345678901234567", "-178.83416748046875", "1234567890123456789"]
)
def test_generated_text_reads_like_the_typed_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusing: str | None
) -> None:
    """Exponents, mantissas beyond 2**53 and 19-digit integers make the parser refuse their
    piece: that piece (and every later one) is decoded the typed way, the values unchanged."""
    n_joints, n_records = 17, 200
    rng = np.random.default_rng(hash(refusing) % 2**32)
    xy = np.array(_generated_values(rng, n_records * 2 * n_joints, False)).reshape(n_records, n_joints, 2)
    third = np.array(_generated_values(rng, n_records * n_joints, True)).reshape(n_records, n_joints, 1)
    records = np.concatenate([xy, third], axis=2).reshape(n_records, -1).tolist()
    if refusing is not None:
        records[100][8] = refusing  # a third value (no coordinate bound), in the 4th piece of 32
    monkeypatch.setattr(predictions_module, "KEYPOINT_PARSE_RECORDS", 32)
    counts = _counting_parser(monkeypatch)
    keypoints = _assert_like_typed_and_json(tmp_path / "p.json", _file(records), n_joints)
    assert np.signbit(keypoints[keypoints == 0]).any() and not np.signbit(keypoints[keypoints == 0]).all()
    if refusing is None:
        assert counts == {"accepted": 7, "refused": 0}
    else:  # pieces 0-2 parsed, piece 3 refused, then the parser is not tried again
        assert counts == {"accepted": 3, "refused": 1}


@pytest.mark.parametrize(
    ("keypoints", "problem"),
    [
        ("null", "'keypoints' must be a list of numbers"),
        ("[]", "keypoints has 0 values, expected 3 x 17 joints = 51"),
        ("[" + ", ".join(["1.5"] * 50) + "]", "keypoints has 50 values, expected 3 x 17 joints = 51"),
        ("[" + ", ".join(["1.5"] * 50) + ", true]", "'keypoints' must be a list of numbers"),
    ],
)
def test_a_bad_record_the_parser_would_read_is_named_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keypoints: str, problem: str
) -> None:
    """null and wrong lengths parse (as 0 or n values): the typed decode still names them."""
    texts = ["[" + ", ".join(["2.5"] * 51) + "]"] * 100
    texts[69] = keypoints
    data = _file_of_text(texts)
    monkeypatch.setattr(predictions_module, "KEYPOINT_PARSE_RECORDS", 32)
    messages = []
    for parser in (True, False):
        with pytest.MonkeyPatch.context() as patch:
            if not parser:
                patch.setattr(predictions_module, "parse_number_arrays", lambda records: None)
            with pytest.raises(AnnotationError) as raised:
                read_predictions(tmp_path / "p.json", data, 17, 1)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert messages[0].endswith(f"record 69 (image_id=14): {problem}")
