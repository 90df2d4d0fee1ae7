"""Pure helpers: query string, image-path safety, keypoint loading, range filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.cache.contract import CacheKey
from analysis.cache.manifest import KeypointSchemaRecord
from analysis.definitions import (
    AreaSource,
    Normalisation,
    PersonPopulation,
    SizeBucket,
    SizeDefinition,
    SizeEdges,
)
from dashboard import query
from dashboard.browsing import browse_images
from dashboard.caches import keypoint_schema, load_keypoints
from dashboard.draw import draw_persons, safe_image_path
from dashboard.filters import Filters
from dashboard.paths import ImageRoots
from dashboard.series import SeriesBy


def test_query_round_trip_and_bad_values():
    c = Filters(
        ("b", "a"),
        "val",
        ("x",),
        SizeDefinition(AreaSource.SEGM, SizeEdges(20.0**2, 80.0**2)),
        SizeBucket.SMALL,
        Normalisation.SHARE,
        PersonPopulation.parse("min4"),
        SeriesBy.SOURCE,
    )
    params = query.to_params(c)
    assert params == {
        "ds": "b,a",
        "split": "val",
        "src": "x",
        "bucket": "small",
        "area": "segm",
        "sm": "20",
        "ml": "80",
        "norm": "share",
        "series": "source",
        "persons": "min4",
    }
    assert query.parse(params, ["a", "b"], ["val"]) == c
    bad = query.parse(
        {
            "ds": "zzz",
            "bucket": "huge",
            "sm": "-3",
            "ml": "x",
            "area": "?",
            "norm": "?",
            "series": "?",
            "split": "nope",
        },
        ["a"],
        [],
    )
    assert bad == Filters(("a",))
    assert query.parse({"sm": "100", "ml": "50"}, ["a"], []).size.edges == SizeEdges()


def test_safe_image_path(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    roots = ImageRoots((tmp_path.resolve(),))
    assert safe_image_path("a.jpg", root, roots) == (root / "a.jpg").resolve()
    assert safe_image_path("../secret.txt", root, roots) is None
    assert safe_image_path("/etc/passwd", root, roots) is None
    assert safe_image_path("a.jpg", None, roots) is None
    # the recorded root itself must lie inside an allowed root
    assert safe_image_path("a.jpg", root, ImageRoots((tmp_path.resolve() / "elsewhere",))) is None


def test_load_keypoints_ragged(tmp_path):
    key = CacheKey("d", "s")
    folder = key.directory(tmp_path)
    folder.mkdir(parents=True)
    table = pa.table({"keypoints": pa.array([[1.0, 2.0, 2.0, 3.0, 4.0, 1.0], [5.0, 6.0, 2.0]])})
    pq.write_table(table, folder / "instances.parquet")
    kp = load_keypoints(tmp_path, key)
    assert kp.shape == (2, 6)
    assert kp[0].tolist() == [1, 2, 2, 3, 4, 1] and np.isnan(kp[1, 3:]).all()


def test_keypoint_schema_any_joint_count():
    names, skeleton = keypoint_schema(KeypointSchemaRecord("two", ["a", "b"], [(0, 1), (1, 5)]), 3)
    assert names == ["a", "b", "joint_2"] and skeleton == [(0, 1)]
    assert keypoint_schema(KeypointSchemaRecord("none", [], []), 2) == (["joint_0", "joint_1"], [])


def test_browse_images_ranges():
    images = pd.DataFrame({"n_selected": [1, 5, 9], "crowd_index": [0.0, 0.5, 1.0], "entropy": [np.nan, 2.0, 3.0]})
    assert browse_images(images, persons=(2, 9)).index.tolist() == [1, 2]
    assert browse_images(images, crowd_index=(0.0, 0.5)).index.tolist() == [0, 1]
    assert browse_images(images, entropy=(0.0, 2.5)).index.tolist() == [1]


def test_draw_persons_colours_by_bucket():
    from PIL import Image

    img = Image.new("RGB", (100, 100), "white")
    kp = np.array([[20, 20, 2, 40, 40, 2]], dtype=float)
    out = draw_persons(img, np.array([[10, 10, 50, 50]]), np.array([0]), kp, [(0, 1)])
    assert out.getpixel((10, 30)) == (0xD5, 0x5E, 0x00)  # small: vermillion box edge
    assert out.getpixel((30, 30)) == (0xD5, 0x5E, 0x00)  # skeleton line
