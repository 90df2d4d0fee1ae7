"""Dataset and split names: they become folder names and URL values (``?ds=a,b``)."""

from __future__ import annotations

import re

from analysis.errors import PoseAtlasError

#: Letters, digits, ``-``, ``_`` and ``.``; not leading with ``.`` or ``-``.
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
MAX_NAME_LENGTH = 100


def is_valid_name(value: object) -> bool:
    """Whether ``value`` is a plain dataset or split name (see :data:`NAME_RE`), <= 100 characters."""
    return isinstance(value, str) and len(value) <= MAX_NAME_LENGTH and NAME_RE.fullmatch(value) is not None


def validate_name(value: object, what: str) -> str:
    """``value`` when it is a plain name, else :class:`PoseAtlasError` saying what is allowed."""
    if not is_valid_name(value):
        raise PoseAtlasError(
            f"invalid {what} {value!r}: use letters, digits, '-', '_' or '.' (not leading '.' or '-'), "
            f"at most {MAX_NAME_LENGTH} characters"
        )
    return value  # type: ignore[return-value]
