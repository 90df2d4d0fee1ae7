"""Property: a mutated annotation file gives either a valid cache or the clean error."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.build.run import build_split
from analysis.cache import contract as cache
from analysis.errors import PoseAtlasError
from analysis.registry import DatasetSpec
from tests.analysis.helpers import coco_doc

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


FIELDS = {
    "images": ["id", "file_name", "width", "height", "crowdIndex"],
    "annotations": ["id", "image_id", "category_id", "bbox", "keypoints", "iscrowd", "num_keypoints", "area"],
}


def paths(doc, prefix=()):
    """Every (container path) in the document, for picking a mutation site."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths(v, (*prefix, i))


@st.composite
def mutated_bytes(draw):
    doc = coco_doc(n_joints=draw(st.sampled_from([4, 17])))
    for _ in range(draw(st.integers(1, 3))):
        sites = [p for p in paths(doc) if p]
        site = draw(st.sampled_from(sites))
        parent = doc
        for key in site[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "field"]))
        if action == "field":
            # Aim at the fields the loader reads, where most trouble hides.
            section = draw(st.sampled_from(["images", "annotations"]))
            if isinstance(doc.get(section), list) and doc[section] and isinstance(doc[section][0], dict):
                record = draw(st.sampled_from(doc[section]))
                if isinstance(record, dict):
                    key = draw(st.sampled_from(FIELDS[section]))
                    record[key] = draw(json_values)
        elif action == "replace":
            parent[site[-1]] = draw(json_values)
        elif action == "delete":
            del parent[site[-1]]
        elif isinstance(parent, list):
            parent.append(json.loads(json.dumps(parent[site[-1]])))
        if not isinstance(doc, dict):
            break
    data = json.dumps(doc).encode()
    if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return data


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bytes())
def test_mutated_file_gives_cache_or_clean_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ann = tmp / "ann.json"
        ann.write_bytes(data)
        try:
            result = build_split(DatasetSpec("m", "val", ann), tmp / "cache", progress=False)
        except PoseAtlasError as exc:
            message = str(exc)
            assert str(ann) in message and "\n" not in message
            assert not (tmp / "cache" / "m").exists()
            return
        folder = result.key.directory(tmp / "cache")
        assert tuple(pq.read_schema(folder / cache.IMAGES_FILE).names) == cache.IMAGE_COLUMNS
        instances = cache.read_instances(tmp / "cache", result.key)
        assert len(instances) == result.manifest.counts.annotations


def test_a_string_id_with_a_line_break_is_quoted_in_the_one_line_error(tmp_path):
    # found by the property above: the id was printed raw, so the "one line" error had two
    doc = coco_doc(n_joints=4)
    doc["images"][0]["id"] = "\n"
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(doc))
    try:
        build_split(DatasetSpec("m", "val", ann), tmp_path / "cache", progress=False)
    except PoseAtlasError as exc:
        message = str(exc)
    else:
        raise AssertionError("a string image id was accepted")
    assert message == f"{ann}: image id='\\n' (images[0]): Expected `int`, got `str` in field 'id'"
    assert not (tmp_path / "cache" / "m").exists()
