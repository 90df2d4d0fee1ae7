"""``python -m dashboard.export``: the paper export command (documented entry point).

The command is ``dashboard.exports.cli``; the paper theme and file bytes are
``dashboard.exports.paper``; what each view exports is the rest of ``dashboard.exports``.
"""

from __future__ import annotations

if __name__ == "__main__":
    from dashboard.exports.cli import main

    raise SystemExit(main())
