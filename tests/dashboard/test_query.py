"""dashboard.query: the URL's parameters, the lenient parse the app uses and its strict mode
(the paper export, analysis.api), which refuses what the lenient one replaces by a default."""

from __future__ import annotations

import pytest

from analysis.definitions import AreaSource, Normalisation, PersonPopulation, SizeBucket, SizeEdges
from dashboard import query
from dashboard.series import SeriesBy

DATASETS = ["coco", "crowdpose"]
SPLITS = ["train", "val"]
SOURCES = {"coco": ["coco"], "crowdpose": ["ai", "mpii"]}


def sources_of(names):
    return sorted({s for n in names for s in SOURCES[n]})


def strict(params):
    return query.parse(params, DATASETS, SPLITS, strict=True, sources_of=sources_of)


def test_strict_and_lenient_agree_on_a_valid_query():
    params = {
        "ds": "crowdpose",
        "split": "val",
        "src": "mpii",
        "bucket": "small",
        "area": "crowdpose",
        "sm": "30",
        "ml": "90",
        "norm": "share",
        "persons": "min4",
        "series": "source",
    }
    f = strict(params)
    assert f == query.parse(params, DATASETS, SPLITS)
    assert (f.datasets, f.split, f.sources) == (("crowdpose",), "val", ("mpii",))
    assert f.bucket is SizeBucket.SMALL and f.size.area_source is AreaSource.CROWDPOSE
    assert f.size.edges == SizeEdges(900.0, 8100.0) and f.normalise is Normalisation.SHARE
    assert f.population == PersonPopulation.parse("min4") and f.series is SeriesBy.SOURCE
    assert strict({}) == query.parse({}, DATASETS, SPLITS)  # nothing given: the defaults


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ds": ""}, "ds= names no dataset"),
        ({"ds": "coco,nope"}, "dataset nope not in the caches (cached: coco, crowdpose)"),
        ({"split": "test"}, "split='test' is not one of all, train, val"),
        ({"ds": "coco", "src": "mpii"}, "source mpii not found (sources: coco)"),
        ({"bucket": "huge"}, "bucket='huge' is not one of all, small, medium, large"),
        ({"area": "hull"}, "area='hull' is not one of bbox, segm, crowdpose"),
        ({"norm": "log"}, "norm='log' is not one of count, share"),
        ({"series": "colour"}, "series='colour' is not one of dataset, split, source"),
        ({"persons": "min0"}, "persons='min0': "),
        ({"sm": "inf"}, "sm='inf' is not a side length in px in [0.01, 100000]"),
        ({"ml": "nan"}, "ml='nan' is not a side length in px"),
        ({"sm": "100", "ml": "50"}, "edges must satisfy sm < ml (got sm=100, ml=50)"),
        ({"sm": "100"}, "edges must satisfy sm < ml (got sm=100, ml=96)"),
    ],
)
def test_strict_refuses_what_lenient_replaces_by_a_default(params, message):
    defaults = query.parse({}, DATASETS, SPLITS)
    lenient = query.parse(params, DATASETS, SPLITS)
    # the lenient parse falls back: at least one field differs from what was asked, none raises
    assert lenient.datasets and lenient.split in (None, *SPLITS)
    assert lenient.size.edges.small_medium < lenient.size.edges.medium_large
    with pytest.raises(query.QueryError) as err:
        strict(params)
    assert message in str(err.value) and "\n" not in str(err.value)
    if "ds" not in params and "src" not in params and "split" not in params:
        assert lenient == defaults


def test_strict_needs_the_sources():
    with pytest.raises(TypeError):
        query.parse({}, DATASETS, SPLITS, strict=True)


@pytest.mark.parametrize(
    "text",
    [
        "http://127.0.0.1:8501/size?ds=coco&bucket=small",
        "https://host/people?ds=coco&bucket=small",
        "?ds=coco&bucket=small",
        "ds=coco&bucket=small",
        "/size?ds=coco&bucket=small",
    ],
)
def test_url_params_of_a_url_or_its_query(text):
    assert query.url_params(text) == {"ds": "coco", "bucket": "small"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("ds=coco&colour=red", "unknown query key 'colour' (known: ds, split, src, bucket"),
        ("ds=coco&ds=crowdpose", "query key 'ds' given twice"),
        ("ftp://host/x?ds=coco", "not an http(s) URL"),
        ("http://[::1/size?ds=cp", "not a valid URL (Invalid IPv6 URL)"),
        ("ds", "malformed query string"),
    ],
)
def test_url_params_refuses(text, message):
    with pytest.raises(query.QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        query.url_params(text)


def test_every_key_round_trips_through_to_params():
    f = strict(
        {
            "ds": "coco",
            "split": "val",
            "src": "coco",
            "bucket": "large",
            "area": "segm",
            "sm": "20",
            "ml": "80",
            "norm": "share",
            "persons": "all",
            "series": "split",
        }
    )
    params = query.to_params(f)
    assert set(params) == set(query.KEYS) - {"images", "model"}  # the panels export's own keys
    assert strict(params) == f
