"""Browse: the images behind the current filters, boxes and skeletons coloured by size bucket.

Thin: the logic is ``dashboard.browsing`` (hand-off, ranges, pages) and
``dashboard.browse_tiles`` (locating and drawing each image, captions and notices)."""

from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from analysis.cache.key import CacheKey
from analysis.cache.manifest import images_root
from dashboard import browse_errors, browse_tiles, browsing, data, evaluations, paths, ui
from dashboard.browsing import (
    CI_KEY,
    ENTROPY_KEY,
    PAGE_KEY,
    PERSONS_KEY,
    SERIES_KEY,
    BrowseRanges,
    empty_selection_message,
    with_image_files,
)
from dashboard.caches import keypoint_schema
from dashboard.predictions import images_missing_small, small_ann_ids
from dashboard.thumbnails import ThumbnailError, open_thumbnail

ctx = ui.context()
f = ctx.filtered
st.title("Browse")
what = "persons" if f.filters.bucket is None else f"{f.filters.bucket.value} persons"
ranges = BrowseRanges.of(f.images)


def _range(
    container: DeltaGenerator,
    label: str,
    lo: float,
    hi: float,
    key: str,
    step: float | None = None,
) -> tuple[float, float]:
    """A range slider whose stored value is clamped to the current bounds."""
    st.session_state[key] = browsing.clamp(st.session_state.get(key, (lo, hi)), lo, hi)
    # streamlit's overloads type the value from `value=` (unset: one number); with the pair held
    # in session_state under `key`, the slider returns that pair
    return container.slider(label, lo, hi, key=key, step=step)  # type: ignore[return-value]


# a bar clicked in another view hands over its series and a range once
if browsing.BROWSE_HANDOFF in st.session_state:
    st.session_state.update(browsing.handoff_widgets(st.session_state.pop(browsing.BROWSE_HANDOFF), ctx.series))
st.session_state[SERIES_KEY] = browsing.kept_series(st.session_state.get(SERIES_KEY, []), ctx.series)
chosen = st.multiselect(
    "Show",
    ctx.series,
    key=SERIES_KEY,
    placeholder="every selected dataset",
    format_func=ctx.label,
    help="A clicked histogram bar opens its own dataset only.",
)
c1, c2, c3 = st.columns(3)
persons_range = _range(c1, f"{what} per image", 0, ranges.persons, PERSONS_KEY)
ci_range = _range(c2, "CrowdIndex", 0.0, ranges.crowd_index, CI_KEY, step=0.01)
if ranges.entropy is not None:
    ent_range = ranges.entropy_filter(_range(c3, "scene entropy", 0.0, ranges.entropy, ENTROPY_KEY, step=0.01))
else:
    ent_range = None
    c3.caption("scene entropy: not computed (see the Scenes view)")
shown = browsing.browse_images(
    f.images, series=chosen or None, persons=persons_range, crowd_index=ci_range, entropy=ent_range
)

# A model's predictions: only the images of the split it was evaluated on.
split = f.filters.split
root_dir = paths.cache_root()
stored_models = evaluations.find_models(
    root_dir, [k for k in ctx.caches.keys if k.dataset in ctx.datasets and (split is None or k.split == split)]
)
for damaged in (m for m in stored_models if m.record.damaged):  # named, never drawn
    st.caption(
        f"{damaged.label}: not offered, its stored evaluation is damaged ({damaged.record.damaged}); evaluate it again"
    )
by_label = {m.label: m for m in stored_models if not m.record.damaged}
m1, m2 = st.columns([2, 1])
choice = m1.selectbox(
    "Model predictions",
    ["none", *by_label],
    key="br_model",
    help="Draw a stored evaluation's predictions beside the ground truth (python -m analysis evaluate).",
)
entry = by_label.get(choice)
joint_error = "any"


@st.cache_resource(max_entries=2)
def _joint_classes(root: Path, key: CacheKey, model: str) -> pd.DataFrame:
    return browse_errors.stored_person_joint_classes(root, key, model, data.keypoints(key.dataset, key.split))


n_small = None  # small ground-truth persons, counted when "missed small persons" is asked
if entry is not None:
    det_matches, gt_matches = data.matches(entry, browse_tiles.MATCH_OKS)
    shown = browsing.only_key(shown, str(entry.key))
    if m2.checkbox(
        "missed small persons",
        key="br_missed_small",
        help=f"Images where the model misses a small person ({f.filters.size.description}) "
        f"at OKS {browse_tiles.MATCH_OKS}.",
    ):
        key_persons = browsing.of_split(ctx.caches.persons, entry.key.dataset, entry.key.split)
        small_ids = small_ann_ids(key_persons, f.filters.size)
        n_small = len(small_ids)
        shown = browsing.only_images(shown, images_missing_small(gt_matches, small_ids))
    joint_error = m2.selectbox(
        "joint error",
        ["any", *browse_errors.ERROR_CLASSES],
        key="br_joint_error",
        help=f"Images with a {what[:-1]} whose joints have this error "
        "(docs/guides/diagnosis.md); ringed on the predictions.",
    )
    if joint_error != "any":
        errs = browse_errors.with_error(
            _joint_classes(root_dir, entry.key, entry.model),
            joint_error,
            browsing.of_split(f.persons, entry.key.dataset, entry.key.split)["ann_id"],
        )
        shown = browsing.only_images(shown, errs["image_id"])
image_roots = paths.image_roots()
if st.checkbox(
    "only images with files", key="br_with_files", help="Leave out images whose file is not found or may not be opened."
):
    shown, without_files = with_image_files(
        shown,
        lambda d, sp, name: (
            browse_tiles.locate_image(d, sp, name, images_root(ctx.caches.manifest(d, sp)), image_roots).path
        ),
    )
    if without_files:
        st.caption(f"{without_files:,} image(s) without a file left out.")
st.write(f"**{len(shown):,}** images match ({ctx.caption()}).")
st.caption(
    browse_tiles.legend_caption()
    if entry is None
    else browse_tiles.legend_caption(entry.label, entry.definitions.description)
)
if not len(shown):
    st.warning(empty_selection_message(entry is not None and n_small is not None, n_small, f.filters.size.description))
    st.stop()

pages = browsing.page_count(len(shown))
st.session_state[PAGE_KEY], _ = browsing.page_rows(shown, st.session_state.get(PAGE_KEY, 1))
page = st.number_input(f"page (of {pages})", 1, pages, key=PAGE_KEY) if pages > 1 else 1
_, chunk = browsing.page_rows(shown, page)
n_cols = 3 if entry is None else 2  # ground truth beside predictions: wider images
cols = st.columns(n_cols)
no_roots: list[str] = []
refused_roots: list[str] = []
for i, (idx, img) in enumerate(chunk.iterrows()):
    col = cols[i % n_cols]
    dataset, split = str(img["dataset"]), str(img["split"])
    manifest = ctx.caches.manifest(dataset, split)
    label = browsing.image_label(img, what)
    located = browse_tiles.locate_image(dataset, split, str(img["file_name"]), images_root(manifest), image_roots)
    no_roots += [located.no_root] if located.no_root else []
    refused_roots += [located.refused_root] if located.refused_root else []
    if located.path is None:
        col.caption(f"{label}: {located.problem}")
        continue
    try:  # one bad image (missing, corrupt, a decompression bomb) never stops the page
        kp = data.keypoints(dataset, split)
        _, skeleton = keypoint_schema(manifest.keypoint_schema, kp.shape[1] // 3)
        if entry is not None:  # reduced like every thumbnail, to the match drawing's panel size
            thumb = open_thumbnail(located.path, max_side=480)
            drawn = browse_tiles.draw_predictions(
                thumb,
                int(img["image_id"]),
                kp,
                skeleton,
                data.instance_boxes(entry.key.dataset, entry.key.split),
                gt_matches,
                det_matches,
            )
            if joint_error != "any":  # the chosen error's joints ringed on the predictions
                drawn = browse_errors.mark_joints(
                    drawn,
                    errs[errs["image_id"] == int(img["image_id"])],
                    joint_error,
                    thumb.source_size or thumb.image.size,
                )
        else:
            drawn = browse_tiles.draw_ground_truth(
                open_thumbnail(located.path), f.persons, ctx.caches.crowd_regions, idx, kp, skeleton
            )
    except ThumbnailError as exc:
        col.caption(f"{label}: {exc}")
        continue
    col.image(drawn, caption=label)
if warning := browse_tiles.refused_roots_warning(refused_roots):
    st.warning(warning)
for line in image_roots.refused:
    st.warning(f"Image root refused: {line}")
if info := browse_tiles.missing_roots_info(no_roots):
    st.info(info)
