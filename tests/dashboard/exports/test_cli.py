"""``python -m dashboard.export``: files for a URL, the size-bucket CSV against an
independent pandas computation (demo caches and real annotation files), byte-identical
reruns, a spec file, and bad input as one line with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.dashboard.dashboard_helpers import DEMO_LABEL as L
from tests.dashboard.dashboard_helpers import REPO, chromium_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("export-cli")]

#: Runs the command in a fresh interpreter and fails if anything imported streamlit.
_RUN = (
    "import sys; from dashboard.exports.cli import main; rc = main(sys.argv[1:]); "
    "assert 'streamlit' not in sys.modules, 'the export path imported streamlit'; sys.exit(rc)"
)


def export(*args: str, cache: Path | None = None) -> subprocess.CompletedProcess:
    argv = [*args, *(["--cache-dir", str(cache)] if cache else [])]
    return subprocess.run(
        [sys.executable, "-c", _RUN, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=600,
    )


def expected_buckets(
    annotation_files: dict[str, Path], sm: float = 32.0, ml: float = 96.0, *, keypoints_only: bool = False
) -> pd.DataFrame:
    """S/M/L counts of non-crowd person annotations by bbox w*h, straight from the JSON files
    (``keypoints_only``: those whose stored ``num_keypoints`` is > 0)."""
    rows = []
    for name, path in annotation_files.items():
        raw = json.loads(path.read_text())
        persons = {c["id"] for c in raw["categories"] if c.get("name") == "person"} or {
            c["id"] for c in raw["categories"]
        }
        anns = pd.DataFrame([a for a in raw["annotations"] if a["category_id"] in persons])
        anns = anns[~anns["iscrowd"].astype(bool)]
        if keypoints_only:
            anns = anns[anns["num_keypoints"] > 0]
        area = anns["bbox"].map(lambda b: float(b[2]) * float(b[3]))
        bucket = pd.cut(area, [-np.inf, sm * sm, ml * ml, np.inf], right=False, labels=["small", "medium", "large"])
        counts = bucket.value_counts().reindex(["small", "medium", "large"], fill_value=0)
        rows.append({"dataset": name, **{k: int(v) for k, v in counts.items()}})
    return pd.DataFrame(rows)


def expected_from_cache(cache: Path, names: list[str], sm: float = 32.0, ml: float = 96.0) -> pd.DataFrame:
    """The same from the cached instances.parquet files (pandas only, no project code)."""
    rows = []
    for name in names:
        inst = pd.concat([pd.read_parquet(p) for p in sorted((cache / name).glob("*/instances.parquet"))])
        inst = inst[~inst["iscrowd"].astype(bool)]
        area = inst["bbox_w"] * inst["bbox_h"]
        rows.append(
            {
                "dataset": name,
                "small": int((area < sm**2).sum()),
                "medium": int(((area >= sm**2) & (area < ml**2)).sum()),
                "large": int((area >= ml**2).sum()),
            }
        )
    return pd.DataFrame(rows)


def test_demo_export_files_and_size_buckets(demo_cache: Path, tmp_path: Path):
    chromium_or_skip()
    out = tmp_path / "out"
    url = "http://127.0.0.1:8501/size?ds=demo-small,demo-sparse&sm=30&ml=90"
    r = export(
        "--url",
        url,
        "--out",
        str(out),
        "--views",
        "size,people,overview",
        "--formats",
        "svg,pdf",
        "--width",
        "double",
        cache=demo_cache,
    )
    assert r.returncode == 0, r.stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(
        [
            "captions.tex",
            "captions.txt",
            "overview/overview-comparison.csv",
            "overview/overview-comparison.tex",
            "people/people-per-image.csv",
            "people/people-per-image.pdf",
            "people/people-per-image.svg",
            "people/people-per-image.tex",
            *[
                f"size/{s}.{e}"
                for s in ("size-buckets", "body-area-distribution", "relative-size")
                for e in ("pdf", "svg")
            ],
            *[
                f"size/{s}.{e}"
                for s in ("size-buckets", "size-bucket-shares", "body-area-distribution")
                for e in ("csv", "tex")
            ],
        ]
    )
    csv = pd.read_csv(out / "size" / "size-buckets.csv")
    assert list(csv.columns) == ["dataset", "small", "medium", "large"]
    assert all(pd.api.types.is_integer_dtype(csv[c]) for c in ("small", "medium", "large"))
    want = expected_from_cache(demo_cache, ["demo-small", "demo-sparse"], 30, 90)
    pd.testing.assert_frame_equal(csv, want, check_dtype=False)
    # the Figure 8b histogram's bins hold every person with an area, as integers
    area = pd.read_csv(out / "size" / "body-area-distribution.csv")
    assert list(area.columns) == ["left", "right", "demo-small", "demo-sparse"]
    for name in ("demo-small", "demo-sparse"):
        assert pd.api.types.is_integer_dtype(area[name])
        assert area[name].sum() == want.set_index("dataset").loc[name].sum()
    # every figure has a caption line naming its definitions; nothing else is in the image
    captions = (out / "captions.txt").read_text().splitlines()
    assert any(
        line.startswith(f"size/size-buckets.pdf: datasets: {L['demo-small']}, demo-sparse") and "30^2" in line
        for line in captions
    )
    tex = (out / "size" / "size-buckets.tex").read_text()
    assert r"$30^{2}$" in tex and "30^2" not in tex and r"\textasciicircum" not in tex
    for pdf in out.rglob("*.pdf"):
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size < 200_000, pdf


#: Two exports in one fresh interpreter (``main`` twice, as two commands would run them), each
#: into its own folder; fails if anything imported streamlit.  argv[1] is a JSON list of argv lists.
_RUN_EACH = (
    "import json, sys; from dashboard.exports.cli import main; "
    "codes = [main(argv) for argv in json.loads(sys.argv[1])]; "
    "assert 'streamlit' not in sys.modules, 'the export path imported streamlit'; sys.exit(max(codes))"
)

#: Every view's figures as SVG (shares, the default single-column width), and the size and
#: models views in every format at page width: PNG (kaleido, with its pHYs chunk), PDF (cairo,
#: date fixed), SVG, CSV and LaTeX; hatched bars (size), the models view's figures with their
#: intervals and Table 5.
_RERUN_EXPORTS = {
    "every-view": ["--url", "ds=demo-crowd,demo-small&norm=share", "--formats", "svg"],
    "every-format": [
        "--url",
        "ds=demo-crowd,demo-small",
        "--views",
        "size,models",
        "--formats",
        "png,svg,pdf",
        "--width",
        "double",
    ],
}


def test_reruns_give_byte_identical_files_in_every_format(demo_cache: Path, tmp_path: Path):
    """The same caches and arguments give the same bytes, run by two fresh interpreters.

    The two runs go side by side (two processes at once: each spends most of its time waiting
    on its own Chromium), and each run makes both exports of ``_RERUN_EXPORTS`` in one
    interpreter, so the pair costs two interpreter and import start-ups, not four."""
    chromium_or_skip()
    procs = []
    for n in (1, 2):
        argvs = [
            [*args, "--out", str(tmp_path / f"run{n}" / name), "--cache-dir", str(demo_cache)]
            for name, args in _RERUN_EXPORTS.items()
        ]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _RUN_EACH, json.dumps(argvs)],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        )
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    for name in _RERUN_EXPORTS:
        runs = []
        for n in (1, 2):
            out = tmp_path / f"run{n}" / name
            runs.append({str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
        assert runs[0].keys() == runs[1].keys(), name
        assert [k for k in runs[0] if runs[0][k] != runs[1][k]] == [], name
        kinds = {Path(k).suffix for k in runs[0]}
        if name == "every-view":
            assert {".csv", ".tex", ".svg", ".txt"} <= kinds
            assert len([k for k in runs[0] if k.endswith(".svg")]) >= 10  # every view's figures are there
        else:
            assert {".png", ".svg", ".pdf", ".csv", ".tex", ".txt"} <= kinds
            assert "models/ap-per-slice.pdf" in runs[0] and "models/models-table5.tex" in runs[0]


def test_real_annotations_size_buckets(fixtures_dir: Path, tmp_path: Path):
    """The builds run in process (``analysis``'s ``main``: their own process is tested elsewhere);
    the two exports in one fresh interpreter (``_RUN_EACH``)."""
    from analysis.cli import main as analysis_main

    chromium_or_skip()
    cache = tmp_path / "cache"
    sources = {
        "coco": fixtures_dir / "coco-mini" / "annotations" / "person_keypoints_val2017.json",
        "crowdpose": fixtures_dir / "xtcocoapi" / "example_crowdpose_val.json",
    }
    for name, path in sources.items():
        argv = ["build", "--name", name, "--split", "val", "--annotations", str(path), "--cache-dir", str(cache)]
        assert analysis_main(argv) == 0, name
    out, out_kp = tmp_path / "out", tmp_path / "out-keypoints"
    both = [
        ["--url", "ds=coco,crowdpose&persons=all", "--out", str(out), "--views", "size,crowding", "--formats", "svg"],
        # the default population (persons=keypoints: stored num_keypoints > 0), as the SmallPose paper counts
        ["--url", "ds=coco,crowdpose", "--out", str(out_kp), "--views", "size", "--formats", "svg"],
    ]
    r = subprocess.run(
        [sys.executable, "-c", _RUN_EACH, json.dumps([[*argv, "--cache-dir", str(cache)] for argv in both])],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    csv = pd.read_csv(out / "size" / "size-buckets.csv")
    pd.testing.assert_frame_equal(csv, expected_buckets(sources), check_dtype=False)
    assert csv["small"].sum() + csv["medium"].sum() + csv["large"].sum() > 100
    keypoints = pd.read_csv(out_kp / "size" / "size-buckets.csv")
    pd.testing.assert_frame_equal(keypoints, expected_buckets(sources, keypoints_only=True), check_dtype=False)
    assert (keypoints[["small", "medium", "large"]].to_numpy() <= csv[["small", "medium", "large"]].to_numpy()).all()
    assert not keypoints.equals(csv)  # COCO's persons without keypoints are left out
    # CrowdPose ships crowdIndex: the agreement table is exported with integer counts
    agree = (out / "crowding" / "crowdindex-agreement.tex").read_text()
    row = next(line for line in agree.splitlines() if line.startswith("crowdpose & "))
    cells = row.removesuffix(r" \\").split(" & ")
    stored = json.loads(sources["crowdpose"].read_text())["images"]
    assert cells[1] == str(sum("crowdIndex" in i for i in stored))  # an integer, never 4.00
    assert cells[2].isdigit()


def test_spec_file(demo_cache: Path, tmp_path: Path):
    chromium_or_skip()
    spec = tmp_path / "paper.toml"
    spec.write_text(f'''
url = "ds=demo-sparse,demo-small"
formats = ["svg"]
cache_dir = "{demo_cache}"

[[export]]
view = "size"
items = ["size-buckets"]
name = "fig8a"
width = "double"

[[export]]
view = "size"
items = ["body-area-distribution"]
url = "ds=demo-small&area=crowdpose"
options = {{ area_axis = "sqrt" }}

[[export]]
view = "people"
percent = true
options = {{ people_log_y = true }}
''')
    out = tmp_path / "figs"
    r = export("--spec", str(spec), "--out", str(out))
    assert r.returncode == 0, r.stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        "captions.tex",
        "captions.txt",
        "people/people-per-image.csv",
        "people/people-per-image.svg",
        "people/people-per-image.tex",
        "size/body-area-distribution.csv",
        "size/body-area-distribution.svg",
        "size/body-area-distribution.tex",
        "size/fig8a.csv",
        "size/fig8a.svg",
        "size/fig8a.tex",
    ]
    captions = (out / "captions.txt").read_text()
    line = next(x for x in captions.splitlines() if x.startswith("size/body-area-distribution.svg: "))
    assert line.startswith(f"size/body-area-distribution.svg: datasets: {L['demo-small']};") and "0.53*w*h" in line
    assert r"\begin{figure*}" in (out / "captions.tex").read_text()  # the double-width entry
    sqrt_svg = (out / "size" / "body-area-distribution.svg").read_text()
    assert "sqrt(body area)" in sqrt_svg
    counts = pd.read_csv(out / "size" / "fig8a.csv")
    assert list(counts["dataset"]) == ["demo-sparse", "demo-small"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "ds=nope", "--views", "size"], "dataset nope not in the caches"),
        (["--url", "ds=demo-small&colour=red"], "unknown query key 'colour'"),
        (["--url", "ds=demo-small&bucket=huge"], "bucket='huge' is not one of"),
        (["--url", "ds=demo-small&sm=100&ml=50"], "edges must satisfy sm < ml"),
        (["--url", "ftp://host/x?ds=demo-small"], "not an http(s) URL"),
        (["--url", "ds=demo-small", "--views", "people,nope"], "unknown view nope"),
        (["--url", "ds=demo-small", "--views", "browse"], "browse shows images and exports nothing"),
        (["--url", "ds=demo-small", "--formats", "gif"], "unknown format gif"),
        (["--url", "ds=demo-small", "--width", "triple"], "invalid choice: 'triple'"),
        (["--views", "size"], "give --url URL (or --spec FILE.toml)"),
        (["--spec", "SPEC:[[export]]\nview = 'size'", "--views", "people"], "--views with --spec"),
        (["--spec", "SPEC:[[export]]\nview = 'size'\nitems = ['nope']"], "view size has no item nope"),
        (["--spec", "SPEC:[[export]]\nview = 'size'\ncolour = 1"], "export 1: unknown key colour"),
        (["--spec", "SPEC:[[export]\nview = 'size'"], "not valid TOML"),
        (["--spec", "SPEC:url = 'ds=demo-small'"], "needs at least one [[export]] table"),
        (["--spec", "SPEC:[[export]]\nview = 'size'\noptions = { area_axis = 'cubic' }"], "area_axis = 'cubic'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(demo_cache: Path, tmp_path: Path, capsys, args, message):
    """In process (``main``, as ``python -m dashboard.export`` runs it; its exit status is
    ``main``'s return value or the ``SystemExit`` argparse raises): each case fails before
    anything is rendered, so a fresh interpreter per case (16 of them) would only add start-up."""
    from dashboard.exports.cli import main

    if args[0] == "--spec":
        spec = tmp_path / "bad.toml"
        spec.write_text(args[1].removeprefix("SPEC:"))
        args = ["--spec", str(spec), *args[2:]]
    out = tmp_path / "out"
    try:
        code = main([*args, "--out", str(out), "--cache-dir", str(demo_cache)])
    except SystemExit as exit_:
        code = exit_.code
    stderr = capsys.readouterr().err
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], stderr
    assert "Traceback" not in stderr and not out.exists()  # nothing written


def test_documented_spec_example_is_valid(tmp_path: Path):
    """The spec documented in the paper-export guide parses into the exports it describes."""
    from dashboard.exports.cli import plan_from_spec
    from dashboard.exports.state import AreaAxis

    guide = (REPO / "docs" / "guides" / "paper-export.md").read_text()
    block = guide.split("**Spec file**", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    spec = tmp_path / "paper.toml"
    spec.write_text(block)
    plan = plan_from_spec(spec, None, None)
    assert plan.out == tmp_path / "figures" and plan.cache_dir == tmp_path / "../data/cache"
    assert [(j.view, j.items, j.name) for j in plan.jobs] == [
        ("size", ("size-buckets",), "fig8a"),
        ("size", ("body-area-distribution",), None),
        ("crowding", None, None),
    ]
    assert plan.jobs[0].params == {"ds": "crowdpose,coco", "persons": "keypoints"}
    assert plan.jobs[1].render.preset == "double" and plan.jobs[1].options.area_axis is AreaAxis.SQRT
    assert plan.jobs[2].options.crowd_convention.value == "eval-code"
    assert all(j.render.formats == ("pdf",) for j in plan.jobs)


def test_models_view_exports_table5_equal_to_pycocotools(demo_cache: Path, tmp_path: Path):
    """``--views models``: the computed Table 5 rows (AP over all persons) equal pycocotools
    run here on the demo's annotation and results files; the paper's rows come apart."""
    from tests.dashboard.cocoeval_matches import run as coco_run

    out = tmp_path / "out"
    proc = export(
        "--url", "ds=demo-small", "--views", "models", "--formats", "svg", "--out", str(out), cache=demo_cache
    )
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "models" / "models-table5.csv").set_index("model")
    data = demo_cache.parent / "data" / "demo-small"
    for model in ("synthetic-precise", "synthetic-coarse"):
        ref = coco_run(data / "annotations.json", data / "predictions" / f"{model}.json")
        assert table.loc[model, "AP"] == pytest.approx(100 * ref.ap[0], abs=1e-9)
    reported = pd.read_csv(out / "models" / "smallpose-reported-table5.csv")
    assert not set(reported.iloc[:, 0]) & {"synthetic-precise", "synthetic-coarse"}
    assert (out / "models" / "ap-per-slice.svg").is_file()
    assert (out / "models" / "precision-recall-small.svg").is_file()
    # a dataset without any evaluation: a note, nothing written for the view, exit 0
    none = export(
        "--url",
        "ds=demo-sparse",
        "--views",
        "models",
        "--formats",
        "svg",
        "--out",
        str(tmp_path / "none"),
        cache=demo_cache,
    )
    assert none.returncode == 0, none.stderr
    assert "No stored evaluation" in none.stdout + none.stderr
    assert not list((tmp_path / "none").glob("models/*.csv"))
