"""View name -> its exports function (the names ``--views`` and a spec's ``view`` take)."""

from __future__ import annotations

from collections.abc import Callable

from dashboard.exports import crowding, errors, keypoints, models, overview, panels, people, scenes, size
from dashboard.exports.items import ExportItem
from dashboard.exports.state import ViewState

VIEWS: dict[str, Callable[[ViewState], list[ExportItem]]] = {
    "overview": overview.exports,
    "people": people.exports,
    "size": size.exports,
    "crowding": crowding.exports,
    "scenes": scenes.exports,
    "keypoints": keypoints.exports,
    "models": models.exports,
    "errors": errors.exports,
    "panels": panels.exports,  #: only with images=ID,ID in the URL (a note otherwise)
}


def exports(view: str, state: ViewState) -> list[ExportItem]:
    return VIEWS[view](state)
