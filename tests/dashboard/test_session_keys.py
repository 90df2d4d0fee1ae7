"""Session state does not grow with the pages a session visits.

Every figure has three keyed download buttons and every table two, so a session that kept
the keys of the pages it left would make every later rerun (which copies session state
once at its start) slower the more pages it had seen.  Streamlit drops a widget's state
when a run ends without it; this checks that the dashboard keeps nothing of its own per
page either.
"""

from __future__ import annotations

from itertools import pairwise

from tests.dashboard.dashboard_helpers import VIEWS, app, texts

#: Key prefixes of each view's own widgets (``dashboard/views/*.py`` and ``ui.show`` keys).
PAGE_PREFIXES = {"crowding": ("crowd_", "dens_"), "keypoints": ("kp_",), "browse": ("br_",)}


def _keys(at) -> set[str]:
    """The user keys held (AppTest's proxy wraps Streamlit's ``SafeSessionState``)."""
    return set(at.session_state._state.filtered_state)


def _held(at) -> int:
    """Every entry a rerun's start copies (``SessionState._compact_state`` iterates these),
    keyless widgets included."""
    return len(list(at.session_state._state._state))


def test_session_keys_do_not_accumulate_over_pages(app_env):
    at = app()
    at.run()
    first_overview, first_held = _keys(at), _held(at)
    seen: dict[str, set[str]] = {}
    held: dict[str, int] = {}
    for view in VIEWS[1:]:
        at.switch_page(f"views/{view}.py")
        at.run()
        assert not at.exception, texts(at)
        seen[view], held[view] = _keys(at), _held(at)
    # the keys of a page left behind are gone on the next page
    for left, now in pairwise(VIEWS[1:]):
        stale = {k for k in seen[now] if k.startswith(PAGE_PREFIXES.get(left, ("\0",)))}
        assert not stale, f"{left}'s keys still held on {now}: {sorted(stale)}"
    # the download buttons are keyed widgets: a page with figures holds them while shown
    assert any(k.startswith("crowd_") and k.endswith("_png") for k in seen["crowding"])
    # back on the first page after every other: the same keys as on the first visit
    at.switch_page("views/overview.py")
    at.run()
    assert _keys(at) == first_overview
    assert _held(at) == first_held
    # and a page visited midway holds what it held then
    at.switch_page("views/crowding.py")
    at.run()
    assert (_keys(at), _held(at)) == (seen["crowding"], held["crowding"])
