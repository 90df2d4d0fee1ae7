"""What gets exported: every view's figures and tables as an explicit set.

Each view has a pure module here with ``exports(state) -> list[ExportItem]`` built
from the current filters and options (no streamlit).  The dashboard draws these items
and its "export all" zip renders them at click time; ``python -m dashboard.export``
renders the same items to files.  One code path, so an export is never stale.

Modules: ``items`` (FigureItem / TableItem / Note), ``state`` (ViewState: the filters
and options a view depends on), one module per view, ``catalog`` (view name ->
exports function), ``paper`` (the paper theme; figure, CSV bytes), ``latex`` (captions
and booktabs tables), ``render`` (items -> file bytes), ``cli`` (the command, run as
``python -m dashboard.export``: ``dashboard/export.py`` is only that entry point).
"""
