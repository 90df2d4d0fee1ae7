"""Browse: the images behind the current filters, boxes and skeletons coloured by size bucket."""

import numpy as np
import streamlit as st
from PIL import Image

from dashboard import data, paths, ui
from dashboard.draw import draw_persons, safe_image_path
from dashboard.filters import range_filter
from analysis.manifest import images_root
from dashboard.loading import keypoint_schema

PER_PAGE = 12
ctx = ui.context()
f = ctx.filtered
st.title("Browse")
images = f.images
what = "persons" if f.filters.bucket is None else f"{f.filters.bucket.value} persons"

n_max = int(images["n_sel"].max())
ci = images["crowd_index"].to_numpy(dtype=float)
ci_max = float(np.nanmax(ci)) if np.isfinite(ci).any() else 0.0
ci_max = max(ci_max, 0.01)
ent = images["entropy"].to_numpy(dtype=float)
has_entropy = bool(np.isfinite(ent).any())


def _clamp(span, lo, hi):
    a, b = span
    a, b = max(lo, min(a, hi)), max(lo, min(b, hi))
    return (a, b) if a <= b else (lo, hi)


def _range(container, label, lo, hi, key, step=None):
    """A range slider whose stored value is clamped to the current bounds."""
    st.session_state[key] = _clamp(st.session_state.get(key, (lo, hi)), lo, hi)
    return container.slider(label, lo, hi, key=key, step=step)


# a bar clicked in another view sets these ranges once
if "browse_persons" in st.session_state:
    st.session_state["br_persons"] = st.session_state.pop("browse_persons")
if "browse_ci" in st.session_state:
    lo, hi = st.session_state.pop("browse_ci")
    st.session_state["br_ci"] = (round(lo, 2), round(hi, 2))
ci_top = round(ci_max + 0.01, 2)
c1, c2, c3 = st.columns(3)
persons_range = _range(c1, f"{what} per image", 0, max(n_max, 1), "br_persons")
ci_range = _range(c2, "CrowdIndex", 0.0, ci_top, "br_ci", step=0.01)
ent_range = None
if has_entropy:
    e_max = round(float(np.nanmax(ent)) + 0.01, 2)
    e_range = _range(c3, "scene entropy", 0.0, e_max, "br_ent", step=0.01)
    ent_range = None if tuple(e_range) == (0.0, e_max) else e_range
else:
    c3.caption("scene entropy: not computed (see the Scenes view)")
shown = range_filter(images, persons=persons_range, crowd_index=ci_range, entropy=ent_range)
st.write(f"**{len(shown):,}** images match ({ctx.caption()}).")
legend = " ".join(f":{c}[■] {b}" for b, c in
                  (("small", "orange"), ("medium", "green"), ("large", "blue")))
st.caption(f"Boxes and skeletons coloured by size bucket: {legend}; grey: unknown area; "
           "purple: crowd regions.")
if not len(shown):
    st.warning("No image in these ranges: widen the sliders or the sidebar filters.")
    st.stop()

pages = (len(shown) - 1) // PER_PAGE + 1
st.session_state["br_page"] = min(max(1, int(st.session_state.get("br_page", 1))), pages)
page = st.number_input(f"page (of {pages})", 1, pages, key="br_page") if pages > 1 else 1
chunk = shown.iloc[(page - 1) * PER_PAGE: page * PER_PAGE]
persons = f.persons
crowd = ctx.caches.crowd_regions
allowed = [paths.data_root()]
cols = st.columns(3)
missing_roots: set[str] = set()
for i, (idx, img) in enumerate(chunk.iterrows()):
    col = cols[i % 3]
    dataset, split = str(img["dataset"]), str(img["split"])
    manifest = ctx.caches.manifest(dataset, split)
    root = images_root(manifest)
    path = safe_image_path(str(img["file_name"]), root, allowed)
    label = f"{dataset}/{split} · {img['file_name']} · {int(img['n_persons'])} person{'' if int(img['n_persons']) == 1 else 's'} · CI {img['crowd_index']:.2f}"
    if root is None or path is None or not path.is_file():
        if root is None:
            missing_roots.add(f"{dataset}/{split}")
        col.caption(f"{label}: image file not available")
        continue
    mine = persons[persons["img"].to_numpy() == idx]
    kp = data.keypoints(dataset, split)
    rows = mine["row"].to_numpy()
    _, skeleton = keypoint_schema(manifest.keypoint_schema, kp.shape[1] // 3)
    boxes = mine[["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].to_numpy(dtype=float)
    cr = crowd[crowd["img"].to_numpy() == idx][["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].to_numpy(dtype=float)
    try:
        with Image.open(path) as im:
            drawn = draw_persons(im, boxes, mine["bucket"].to_numpy(), kp[rows] if len(rows) else None,
                                 skeleton, cr)
    except OSError as exc:
        col.caption(f"{label}: cannot open image ({exc})")
        continue
    col.image(drawn, caption=label)
if missing_roots:
    st.info(
        "No image folder recorded for " + ", ".join(sorted(missing_roots)) + ". Rebuild with the "
        "images: `python -m analysis build --name NAME --split SPLIT --annotations FILE --images DIR` "
        "(or add `images = \"...\"` to the dataset in data/datasets.toml and run "
        "`python -m analysis build`)."
    )
