"""PoseAtlas dashboard: ``python -m dashboard`` (which runs ``streamlit run dashboard/app.py``).

Reads the parquet caches only (``data/cache`` or ``$POSEATLAS_CACHE_DIR``).  The
sidebar's global controls apply to every view and live in the URL query string.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import ui  # noqa: E402
from dashboard.exposure import serving_refusal  # noqa: E402

st.set_page_config(page_title="PoseAtlas", page_icon=":material/accessibility_new:", layout="wide")

# Reachable from other machines without the user's explicit opt-in: show nothing.
refusal = serving_refusal(st.get_option("server.address"), os.environ)
if refusal:
    st.error(refusal)
    st.stop()

PAGES = [
    st.Page("views/overview.py", title="Overview", default=True,
            icon=":material/dashboard:"),
    st.Page("views/people.py", title="People per image",
            icon=":material/groups:"),
    st.Page("views/size.py", title="Size", icon=":material/straighten:"),
    st.Page("views/crowding.py", title="Crowding",
            icon=":material/diversity_3:"),
    st.Page("views/scenes.py", title="Scenes", icon=":material/landscape:"),
    st.Page("views/keypoints.py", title="Keypoints",
            icon=":material/accessibility:"),
    st.Page("views/models.py", title="Models", icon=":material/model_training:"),
    st.Page("views/errors.py", title="Errors", icon=":material/troubleshoot:"),
    st.Page("views/browse.py", title="Browse", icon=":material/photo_library:"),
]

page = st.navigation(PAGES)
st.sidebar.title("PoseAtlas")
ui.setup()
page.run()
