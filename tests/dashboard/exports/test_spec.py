"""The export spec: one msgspec schema, read from TOML or JSON; a bad spec is one line
naming the file and the entry."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from analysis.errors import PoseAtlasError
from dashboard.exports.cli import plan_from_spec
from dashboard.exports.spec import ExportEntry, ExportSpec, load_spec

TOML = """
url = "ds=coco&persons=keypoints"
formats = ["pdf"]
out = "figures"

[[export]]
view = "size"
items = ["size-buckets"]
name = "fig8a"

[[export]]
view = "crowding"
width = "double"
options = { density_low = 0.2, density_high = 0.7 }
"""
DOCUMENT = {
    "url": "ds=coco&persons=keypoints",
    "formats": ["pdf"],
    "out": "figures",
    "export": [
        {"view": "size", "items": ["size-buckets"], "name": "fig8a"},
        {"view": "crowding", "width": "double", "options": {"density_low": 0.2, "density_high": 0.7}},
    ],
}


def test_toml_and_json_specs_decode_to_the_same_struct_and_plan(tmp_path: Path):
    (tmp_path / "a.toml").write_text(TOML)
    (tmp_path / "a.json").write_text(json.dumps(DOCUMENT))
    spec = load_spec(tmp_path / "a.toml")
    assert spec == load_spec(tmp_path / "a.json")
    assert spec.export[0] == ExportEntry(view="size", items=["size-buckets"], name="fig8a")
    assert (spec.url, spec.formats, spec.width, spec.percent, spec.out) == (
        "ds=coco&persons=keypoints",
        ["pdf"],
        "single",
        False,
        "figures",
    )
    plan = plan_from_spec(tmp_path / "a.toml", None, None)
    from_json = plan_from_spec(tmp_path / "a.json", None, None)
    assert [j.where for j in from_json.jobs] == [f"{tmp_path / 'a.json'}: export {n}" for n in (1, 2)]
    assert replace(plan, jobs=[replace(j, where="", url_where="") for j in plan.jobs]) == replace(
        from_json, jobs=[replace(j, where="", url_where="") for j in from_json.jobs]
    )
    assert plan.out == tmp_path / "figures" and plan.cache_dir is None
    size, crowding = plan.jobs
    assert (size.view, size.items, size.name, size.params) == (
        "size",
        ("size-buckets",),
        "fig8a",
        {"ds": "coco", "persons": "keypoints"},
    )
    assert size.render.formats == ("pdf",) and size.render.preset == "single"
    assert crowding.render.preset == "double" and crowding.items is None
    assert (crowding.options.density_low, crowding.options.density_high) == (0.2, 0.7)


def test_the_struct_names_every_documented_key():
    guide = (Path(__file__).resolve().parents[3] / "docs" / "guides" / "paper-export.md").read_text()
    for key in ExportEntry.__struct_fields__:
        assert f"`{key}`" in guide, key
    for key in set(ExportSpec.__struct_fields__) - {"export", "views"}:
        assert f"\n{key} = " in guide, key


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('colour = 1\n[[export]]\nview = "size"\n', "{spec}: unknown key colour (known: cache_dir, export, "),
        (
            '[[export]]\nview = "size"\n[[export]]\nview = "people"\nlabel = "x"\n',
            "{spec}: export 2: unknown key label (known: formats, items, name, options, percent, url, view, width)",
        ),
        ('[[export]]\nview = "size"\nitems = "size-buckets"\n', "{spec}: export 1: items: expected `array | null`"),
        ('[[export]]\nitems = ["size-buckets"]\n', '{spec}: export 1: needs view = "..." (one of overview, people,'),
        ('[[export]]\nview = "size"\noptions = 3\n', "{spec}: export 1: options: expected `object`, got `int`"),
        ('out = 5\n[[export]]\nview = "size"\n', "{spec}: out: expected `str | null`, got `int`"),
        ('url = "ds=coco"\n', "{spec}: needs at least one [[export]] table"),
        ("export = []\n", "{spec}: needs at least one [[export]] table"),
        ("export = 3\n", "{spec}: needs at least one [[export]] table"),
        (
            '[[export]]\nview = "size"\nurl = "ds=coco&colour=red"\n',
            "{spec}: export 1: url: unknown query key 'colour'",
        ),
    ],
)
def test_bad_spec_is_one_line_naming_file_and_entry(tmp_path: Path, body: str, message: str):
    spec = tmp_path / "spec.toml"
    spec.write_text(body)
    with pytest.raises(PoseAtlasError) as err:
        plan_from_spec(spec, tmp_path / "out", None)
    assert message.format(spec=spec) in str(err.value) and "\n" not in str(err.value)


def test_bad_json_is_named_as_json(tmp_path: Path):
    spec = tmp_path / "spec.json"
    spec.write_text('{"export": [}')
    with pytest.raises(PoseAtlasError, match="spec.json: not valid JSON"):
        load_spec(spec)
    spec.write_text("[1]")
    with pytest.raises(PoseAtlasError, match="needs at least one"):
        load_spec(spec)
