"""PoseAtlas dashboard: Streamlit views over the parquet caches.

Pure parts (no streamlit import): ``figures`` (frames + options -> plotly Figure),
``filters`` (the global filters as pandas operations), ``caches`` (caches ->
frames), ``exports`` (each view's figures and tables as an explicit set, rendered to
files and zips; ``exports.paper``: paper theme, kaleido, cairo PDF, CSV; the command
``python -m dashboard.export`` is ``exports.cli``), ``query`` (the URL query string).  Streamlit parts:
``app.py`` (entry and sidebar), ``data`` (cached loaders), ``ui`` (shared widgets)
and ``views/`` (one thin page module per view; not ``pages/``, which would switch
Streamlit to its legacy pages-directory mode).
"""
