"""Keypoints parsed by numpy from their JSON text (``coco_json.RAW_KEYPOINTS``) give exactly
what decoding them into Python lists gives: the parser's values against msgspec's own
decode, and whole loads, tables and errors against the typed path on real and generated files."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.build import coco_json, loading
from analysis.build.loading import load_pose_dataset
from analysis.build.number_arrays import parse_number_arrays
from analysis.errors import AnnotationError
from benchmarks.synthetic_coco import write_synthetic_coco
from tests.analysis.helpers import coco_doc, mutated, write_doc
from tests.analysis.test_bad_input import BAD_DOCS
from tests.analysis.test_decode_paths import CHUNKED, ONE_PASS, _build, assert_same_tables

_LISTS = msgspec.json.Decoder(list[list[int | float] | None])


def raw_records(text: bytes) -> list[msgspec.Raw]:
    """The elements of a JSON array as raw views, as the loader's decode gives them."""
    return msgspec.json.decode(text, type=list[msgspec.Raw])


def reference(text: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(values per record, flat float64 values) by msgspec's typed decode, as the typed path reads them."""
    lists = [v or [] for v in _LISTS.decode(text)]
    lengths = np.array([len(v) for v in lists], np.int64)
    return lengths, np.array([float(x) for v in lists for x in v], np.float64).reshape(-1)


def assert_bitwise_equal(a: np.ndarray, b: np.ndarray) -> None:
    """Same values, with -0.0 and 0.0 told apart."""
    assert a.dtype == b.dtype == np.float64 and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.int64), b.view(np.int64))


_integers = st.one_of(
    st.integers(-300, 300),
    st.integers(-(10**18) + 1, 10**18 - 1),
    st.sampled_from([0, 2**53, 2**53 + 1, 10**18 - 1, -(10**18) + 1, 9007199254740993]),
)


@st.composite
def _decimal_text(draw: st.DrawFn) -> str:
    """A plain JSON decimal: up to 16 digits in all, so its digits as an integer may pass 2**53."""
    whole = draw(st.integers(0, 10**8))
    fraction_digits = draw(st.integers(1, 16 - len(str(whole))))
    fraction = draw(st.integers(0, 10**fraction_digits - 1))
    sign = draw(st.sampled_from(["", "-"]))
    return f"{sign}{whole}.{fraction:0{fraction_digits}d}"


_number_text = st.one_of(_integers.map(str), _decimal_text(), st.sampled_from(["-0", "-0.0", "0.0", "1.5", "-7.25"]))
_space = st.sampled_from(["", " ", "\n  ", "\t", "\r\n"])


@st.composite
def _record_text(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["list", "list", "list", "empty", "null"]))
    if kind == "null":
        return "null"
    if kind == "empty":
        return "[" + draw(_space) + "]"
    numbers = draw(st.lists(_number_text, min_size=1, max_size=12))
    return "[" + draw(_space) + ",".join(n + draw(_space) for n in numbers) + "]"


@settings(max_examples=150, deadline=None)
@given(st.lists(_record_text(), max_size=20))
def test_values_equal_msgspecs_typed_decode(records):
    text = ("[" + ",".join(records) + "]").encode()
    parsed = parse_number_arrays(raw_records(text))
    lengths, values = reference(text)
    big_decimal = any(
        "." in n and int(n.lstrip("-").replace(".", "")) > 2**53
        for r in records
        for n in r.strip("[]").replace(" ", "").replace("\n", "").replace("\t", "").replace("\r", "").split(",")
        if n
    )
    if big_decimal:  # not exact by mantissa / 10**k: left to the typed decode
        assert parsed is None
        return
    assert parsed is not None
    np.testing.assert_array_equal(parsed[0], lengths)
    assert_bitwise_equal(parsed[1], values)


def test_absent_fields_and_nulls_have_no_values():
    parsed = parse_number_arrays([msgspec.Raw(), *raw_records(b"[null, [1, 2], []]")])
    assert parsed is not None
    np.testing.assert_array_equal(parsed[0], [0, 0, 2, 0])
    assert_bitwise_equal(parsed[1], np.array([1.0, 2.0]))


@pytest.mark.parametrize(
    "text",
    [
        b"[[1e5, 2]]",  # an exponent
        b"[[1E-2]]",
        b"[[[1, 2], [3, 4]]]",  # nested
        b'[["1", 2]]',  # a string
        b'[["N", 2]]',  # a rewritten NaN token
        b"[[true, 2]]",
        b"[5]",  # a record that is a bare number
        b'[{"x": 1}]',
        b'["[1, 2]"]',  # a string that looks like an array
        b"[[1234567890123456789]]",  # 19 digits: beyond what int64 holds exactly here
        b"[[1.2345678901234567]]",  # 17 digits: the mantissa passes 2**53
    ],
)
def test_anything_but_plain_number_arrays_is_left_to_the_typed_decode(text):
    assert parse_number_arrays(raw_records(text)) is None


def _load(path: Path, raw: bool, one_pass: bool, monkeypatch) -> loading.PoseDataset | str:
    monkeypatch.setattr(coco_json, "RAW_KEYPOINTS", raw)
    monkeypatch.setattr(coco_json, "ONE_PASS_MAX_BYTES", ONE_PASS if one_pass else CHUNKED)
    try:
        return load_pose_dataset(path)
    except AnnotationError as exc:
        return str(exc)


def assert_same_dataset(new: loading.PoseDataset | str, old: loading.PoseDataset | str) -> None:
    if isinstance(old, str) or isinstance(new, str):
        assert new == old
        return
    for columns in ("images", "instances"):
        a, b = getattr(new, columns), getattr(old, columns)
        for name in a.__dataclass_fields__:
            x, y = getattr(a, name), getattr(b, name)
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype, name
                np.testing.assert_array_equal(x, y)
                if x.dtype.kind == "f":
                    np.testing.assert_array_equal(np.signbit(x), np.signbit(y))
            else:
                assert x == y, name
    assert (new.schema, new.visibility, new.skipped, new.warnings, new.category_id) == (
        old.schema,
        old.visibility,
        old.skipped,
        old.warnings,
        old.category_id,
    )


FIXTURE_FILES = sorted(
    p.relative_to(Path(__file__).resolve().parents[3] / "shared" / "fixtures").as_posix()
    for p in (Path(__file__).resolve().parents[3] / "shared" / "fixtures").rglob("*.json")
)


@pytest.mark.parametrize("relative", FIXTURE_FILES)
def test_every_fixture_file_loads_the_same_either_way(fixtures_dir, monkeypatch, relative):
    """Every JSON file of the fixtures (COCO files and others, which fail with the same
    message), on the one-pass and the chunked decode, in small chunks and parser slices."""
    monkeypatch.setattr(coco_json, "CHUNK_RECORDS", 64)
    monkeypatch.setattr(loading, "PARSE_RECORDS", 16)
    path = fixtures_dir / relative
    for one_pass in (True, False):
        assert_same_dataset(_load(path, True, one_pass, monkeypatch), _load(path, False, one_pass, monkeypatch))


def test_generated_file_with_odd_keypoints_gives_identical_tables(tmp_path, monkeypatch):
    """Decimal, negative and -0 keypoints, nulls, absent lists, another keypoint category, and
    one chunk the parser leaves to the typed decode (an exponent): the same cache either way."""
    path = tmp_path / "synthetic.json"
    write_synthetic_coco(path, n_images=200, n_persons=1500, polygon_points=4, seed=3)
    doc = json.loads(path.read_text())
    rng = np.random.default_rng(0)
    for i, ann in enumerate(doc["annotations"]):
        kps = ann["keypoints"]
        if i % 7 == 1:
            ann["keypoints"] = [round(float(v) + rng.uniform(0.5, 1), int(rng.integers(1, 6))) for v in kps]
        elif i % 11 == 2:
            ann["keypoints"] = None
        elif i % 13 == 3:
            del ann["keypoints"]
        elif i % 17 == 4:
            ann["keypoints"] = [-v if j % 3 != 2 else v for j, v in enumerate(kps)]
    doc["annotations"][5]["keypoints"][0] = -0.0
    doc["categories"].append({"id": 2, "name": "hand", "keypoints": ["a"], "skeleton": []})
    for ann in doc["annotations"][100:130]:
        ann["category_id"] = 2
    text = json.dumps(doc).replace("-0.0,", "-0,", 1)
    values = doc["annotations"][901]["keypoints"]
    marker = '"keypoints": [' + ", ".join(map(str, values)) + "]"
    assert marker in text
    text = text.replace(marker, '"keypoints": [' + ", ".join(["1e1", *map(str, values[1:])]) + "]", 1)
    path.write_text(text)
    monkeypatch.setattr(coco_json, "CHUNK_RECORDS", 256)
    results = []

    def spy(records):
        results.append(parse_number_arrays(records))
        return results[-1]

    monkeypatch.setattr(loading, "parse_number_arrays", spy)
    for one_pass in (ONE_PASS, CHUNKED):
        tables = {}
        for raw in (True, False):
            monkeypatch.setattr(coco_json, "RAW_KEYPOINTS", raw)
            _, tables[raw] = _build(tmp_path, path, one_pass, monkeypatch, f"{raw}-{one_pass}")
        assert_same_tables(tables[True], tables[False])
    # both ways were taken: parsed chunks, and the chunk with the exponent decoded typed
    assert sum(r is not None for r in results) >= 8 and sum(r is None for r in results) == 2


@pytest.mark.parametrize("case", sorted(BAD_DOCS))
def test_bad_files_give_identical_errors_either_way(tmp_path, monkeypatch, case):
    fn, _, _ = BAD_DOCS[case]
    path = write_doc(tmp_path / "bad.json", mutated(coco_doc(), fn))
    for one_pass in (True, False):
        new, old = _load(path, True, one_pass, monkeypatch), _load(path, False, one_pass, monkeypatch)
        assert isinstance(old, str) and new == old


def _set_keypoint(index: int, position: int, value: object):
    def mutate(doc: dict) -> None:
        doc["annotations"][index]["keypoints"][position] = value

    return mutate


@pytest.mark.parametrize(
    "mutate",
    [
        _set_keypoint(1, 4, "12"),  # a quoted number
        _set_keypoint(0, 0, True),
        _set_keypoint(3, 2, [1, 2]),
        _set_keypoint(2, 0, "x"),  # in the crowd region
        _set_keypoint(1, 0, 10**400),  # beyond float64
        _set_keypoint(1, 0, 1e300),  # written with an exponent, then out of range
    ],
    ids=["quoted", "bool", "nested", "string-in-crowd", "huge-int", "exponent"],
)
def test_bad_keypoints_give_identical_errors_either_way(tmp_path, monkeypatch, mutate):
    path = write_doc(tmp_path / "bad.json", mutated(coco_doc(), mutate))
    for one_pass in (True, False):
        new, old = _load(path, True, one_pass, monkeypatch), _load(path, False, one_pass, monkeypatch)
        assert isinstance(old, str) and new == old
