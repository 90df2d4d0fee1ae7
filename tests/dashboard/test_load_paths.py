"""``load_caches`` (labels from each split's single value, columns stacked once, scenes read
without their per-row lists) gives exactly the frames of the plain pandas load it replaced:
every table read whole with ``to_pandas``, joined, concatenated and made categorical.  On the
demo caches and on generated splits with crowd regions, instances of unknown images, missing
values, a split whose rows name two datasets, and a scenes file with a row without a class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from analysis.cache import contract as cache
from analysis.cache.manifest import read_manifest, table_file, write_manifest
from benchmarks.dashboard import write_synthetic_caches
from dashboard.caches import CROWD_COLUMNS, KEEP_PERSON_COLUMNS, PERSON_COLUMNS, load_caches


def _reference(root: Path) -> dict[str, pd.DataFrame | None]:
    """The plain load: per split, whole tables to pandas, image rows looked up through a
    Series index (first image of an id), then one concat and ``astype("category")``."""
    images_parts, person_parts, crowd_parts, scene_parts = [], [], [], []
    offset = 0
    for key in cache.list_caches(root):
        images = cache.read_images(root, key).reset_index(drop=True)
        images["key"] = str(key)
        inst = cache.read_instances(root, key, columns=PERSON_COLUMNS)
        index = pd.Series(np.arange(len(images)) + offset, index=images["image_id"].to_numpy())
        index = index[~index.index.duplicated()]
        inst["instance_row"] = np.arange(len(inst), dtype=np.int64)
        img = index.reindex(inst["image_id"].to_numpy()).to_numpy()
        inst = inst[~np.isnan(img)]
        inst["image_index"] = img[~np.isnan(img)].astype(np.int64)
        crowd = inst["iscrowd"].astype(bool).to_numpy()
        person_parts.append(inst.loc[~crowd, KEEP_PERSON_COLUMNS])
        crowd_parts.append(inst.loc[crowd, CROWD_COLUMNS])
        scenes = cache.read_scenes(root, key)
        if scenes is not None and len(scenes):
            simg = index.reindex(scenes["image_id"].to_numpy()).to_numpy()
            scenes = scenes[~np.isnan(simg)].copy()
            scenes["image_index"] = simg[~np.isnan(simg)].astype(np.int64)
            if all(isinstance(ids, np.ndarray) and len(ids) for ids in scenes["top5_ids"]):
                scenes["top1_id"] = np.array([ids[0] for ids in scenes["top5_ids"]], dtype=np.int16)
                scenes = scenes.drop(columns=["top5_ids", "top5_probs"])
            scene_parts.append(scenes)
        images_parts.append(images)
        offset += len(images)
    images = pd.concat(images_parts, ignore_index=True)
    persons = pd.concat(person_parts, ignore_index=True)
    crowd_regions = pd.concat(crowd_parts, ignore_index=True)
    scenes = pd.concat(scene_parts, ignore_index=True) if scene_parts else None
    images["entropy"] = np.nan
    if scenes is not None:
        images.loc[scenes["image_index"].to_numpy(), "entropy"] = scenes["entropy"].to_numpy(dtype=float)
    for col in ("crowd_index", "crowd_index_stored"):
        images[col] = images[col].astype(float)
    images["n_persons"] = images["n_persons"].astype(np.int64)
    area = images["width"].to_numpy(dtype=float) * images["height"].to_numpy(dtype=float)
    persons["image_area"] = area[persons["image_index"].to_numpy()]
    persons["segm_area"] = persons["segm_area"].astype(float)
    persons["crowding"] = persons["crowding"].astype(float)
    persons["num_keypoints"] = persons["num_keypoints"].astype(np.float32)
    persons["n_labelled"] = persons["n_labelled"].fillna(0).astype(np.int32)
    for frame, columns in (
        (images, ["dataset", "split", "source", "key"]),
        (persons, ["dataset", "split"]),
        (crowd_regions, ["dataset", "split"]),
        (scenes, ["dataset", "split"]),
    ):
        for col in columns if frame is not None else []:
            frame[col] = frame[col].astype("category")
    return {"images": images, "persons": persons, "crowd_regions": crowd_regions, "scenes": scenes}


def _assert_same_load(root: Path) -> None:
    loaded = load_caches(root)
    for name, expected in _reference(root).items():
        got = getattr(loaded, name)
        if expected is None:
            assert got is None, name
            continue
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=name)
        for col in expected.select_dtypes("category"):
            # the categories' own dtype and the codes' width too (assert_frame_equal allows some)
            assert got[col].dtype.categories.dtype == expected[col].dtype.categories.dtype, (name, col)
            assert got[col].cat.codes.dtype == expected[col].cat.codes.dtype, (name, col)


def test_load_equals_the_plain_load_on_the_demo_caches(demo_cache):
    _assert_same_load(demo_cache)


def _rewrite(root: Path, key: cache.CacheKey, name: str, table: pa.Table) -> None:
    """Replace one table file of a split and record it in the manifest."""
    folder = key.directory(root)
    cache.write_parquet(table, folder / name)
    manifest = read_manifest(root, key)
    manifest.tables[name] = table_file(folder / name)
    write_manifest(manifest, folder)


@pytest.fixture(scope="module")
def odd_caches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three generated splits (2,000 persons); one with crowd regions, instances of unknown
    images, missing areas / counts and rows naming another dataset; one whose scenes file has a
    row without a class and a row of an unknown image."""
    root = write_synthetic_caches(tmp_path_factory.mktemp("odd") / "cache", n_persons=2_000, seed=5)
    rng = np.random.default_rng(7)
    crowd = cache.CacheKey("bench-crowd", "train")
    inst = pq.read_table(crowd.directory(root) / cache.INSTANCES_FILE)
    n = inst.num_rows
    iscrowd = rng.uniform(size=n) < 0.1
    image_id = inst.column("image_id").to_numpy().copy()
    image_id[rng.uniform(size=n) < 0.05] = 10**9  # no such image
    dataset = np.where(rng.uniform(size=n) < 0.02, "bench-other", "bench-crowd")
    segm = pa.array(rng.uniform(10, 900, n), mask=rng.uniform(size=n) < 0.3)
    num_kp = pa.array(inst.column("num_keypoints").to_numpy(), mask=rng.uniform(size=n) < 0.2)
    for col, values in (
        ("iscrowd", pa.array(iscrowd)),
        ("image_id", pa.array(image_id)),
        ("dataset", pa.array(dataset)),
        ("segm_area", segm),
        ("num_keypoints", num_kp),
    ):
        inst = inst.set_column(inst.schema.get_field_index(col), col, values)
    _rewrite(root, crowd, cache.INSTANCES_FILE, inst)
    small = cache.CacheKey("bench-small", "train")
    scenes = pq.read_table(small.directory(root) / cache.SCENES_FILE)
    ids = scenes.column("top5_ids").to_pylist()
    ids[3] = []  # a row without a class: this split keeps its lists
    image_ids = scenes.column("image_id").to_numpy().copy()
    image_ids[5] = 10**9
    scenes = scenes.set_column(
        scenes.schema.get_field_index("top5_ids"), "top5_ids", pa.array(ids, pa.list_(pa.int16()))
    )
    scenes = scenes.set_column(scenes.schema.get_field_index("image_id"), "image_id", pa.array(image_ids))
    _rewrite(root, small, cache.SCENES_FILE, scenes)
    return root


def test_load_equals_the_plain_load_on_odd_generated_splits(odd_caches):
    loaded = load_caches(odd_caches)
    # the cases are there: crowd regions, dropped instances, two datasets in one split's rows
    assert len(loaded.crowd_regions) and len(loaded.persons) < 2_000 - len(loaded.crowd_regions)
    assert "bench-other" in set(loaded.persons["dataset"])
    assert {"top5_ids", "top1_id"} <= set(loaded.scenes.columns)
    assert pc.sum(pa.array(loaded.persons["segm_area"].isna())).as_py() > 0
    _assert_same_load(odd_caches)


def test_load_of_one_split_equals_the_plain_load(odd_caches, tmp_path):
    import shutil

    root = tmp_path / "cache"
    shutil.copytree(odd_caches / "bench-coco", root / "bench-coco")
    _assert_same_load(root)
