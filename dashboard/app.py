"""PoseAtlas dashboard: ``python -m dashboard`` or ``poseatlas dashboard`` (which run
``streamlit run dashboard/app.py`` with the ``dashboard`` package importable).

Reads the parquet caches only (``data/cache`` or ``$POSEATLAS_CACHE_DIR``).  The
sidebar's global controls apply to every view and live in the URL query string.
``streamlit run`` by hand needs ``dashboard`` importable: the package installed
(``pip install -e .``), or ``python -m streamlit run`` from the checkout, or
``PYTHONPATH`` naming the checkout.
"""

from __future__ import annotations

import os

import streamlit as st

from dashboard import ui
from dashboard.exposure import serving_refusal

st.set_page_config(page_title="PoseAtlas", page_icon=":material/accessibility_new:", layout="wide")

# Reachable from other machines without the user's explicit opt-in: show nothing.
refusal = serving_refusal(st.get_option("server.address"), os.environ)
if refusal:
    st.error(refusal)
    st.stop()

PAGES = [
    st.Page("views/overview.py", title="Overview", default=True, icon=":material/dashboard:"),
    st.Page("views/people.py", title="People per image", icon=":material/groups:"),
    st.Page("views/size.py", title="Size", icon=":material/straighten:"),
    st.Page("views/crowding.py", title="Crowding", icon=":material/diversity_3:"),
    st.Page("views/scenes.py", title="Scenes", icon=":material/landscape:"),
    st.Page("views/keypoints.py", title="Keypoints", icon=":material/accessibility:"),
    st.Page("views/models.py", title="Models", icon=":material/model_training:"),
    st.Page("views/errors.py", title="Errors", icon=":material/troubleshoot:"),
    st.Page("views/browse.py", title="Browse", icon=":material/photo_library:"),
]

page = st.navigation(PAGES)
st.sidebar.title("PoseAtlas")
ui.setup()
page.run()
