r"""Plain text with a little notation as LaTeX: the one text-to-LaTeX function of the
analysis tables (Table 5 of ``evaluate --table-latex``) and the dashboard's exports.

Captions and cells are plain text with a little notation (``32^2``, ``<=``, ``N_b/N_a``,
``0.53*w*h``, ``|diff|``); :func:`latex_text` sets that notation in math mode (``$32^{2}$``,
``$\le$``, ``$N_{b}/N_{a}$``, ``$0.53 \cdot w \cdot h$``) and escapes everything else, so
the output compiles with default fonts (a bare ``<`` prints as an inverted exclamation
mark in OT1).
"""

from __future__ import annotations

import re

_ESCAPES = str.maketrans(
    {
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
        "\\": r"\textbackslash{}",
        "±": r"$\pm$",
        "†": r"$^\dagger$",  # interval cells and few-person marks
    }
)

_RELATIONS = {"<=": r"\le", ">=": r"\ge", "!=": r"\ne", "==": "=", "<": "<", ">": ">"}
_NUMBER = r"\d+(?:\.\d+)?"
#: The notation recognised as math, tried left to right at each position.
_MATH = re.compile(
    rf"(?P<power>(?:{_NUMBER}|\b[A-Za-z]+)(?:\^|\*\*)(?P<exp>{_NUMBER}))"
    r"|(?P<sup2>\w+)²"
    r"|(?P<product>[\w.]+(?:\*[\w.]+)+)"
    r"|(?P<ratio>\b[A-Za-z]_[A-Za-z0-9]+(?:/[A-Za-z]_[A-Za-z0-9]+)?\b)"
    r"|(?P<abs>\|[^|]+\|)"
    r"|(?P<rel><=|>=|!=|==|<|>)"
)


def _sub(name: str) -> str:
    base, sub = name.split("_", 1)
    return f"{base}_{{{sub}}}" if len(sub) == 1 else rf"{base}_{{\mathrm{{{sub}}}}}"


def _roman(base: str) -> str:
    """Units and words upright (px), numbers and one-letter symbols as they are."""
    return rf"\mathrm{{{base}}}" if len(base) > 1 and base.isalpha() else base


def _math(m: re.Match[str]) -> str:
    if m.group("power"):
        base = re.split(r"\^|\*\*", m.group("power"))[0]
        return f"${_roman(base)}^{{{m.group('exp')}}}$"
    if m.group("sup2"):
        return f"${_roman(m.group('sup2'))}^{{2}}$"
    if m.group("product"):
        return "$" + r" \cdot ".join(m.group("product").split("*")) + "$"
    if m.group("ratio"):
        return "$" + "/".join(_sub(p) for p in m.group("ratio").split("/")) + "$"
    if m.group("abs"):
        return rf"$|\mathrm{{{m.group('abs')[1:-1].strip()}}}|$"
    return f"${_RELATIONS[m.group('rel')]}$"


def latex_text(text: str) -> str:
    """``text`` for LaTeX: the notation above in math mode, every special escaped."""
    out, pos = [], 0
    for m in _MATH.finditer(text):
        out.append(text[pos : m.start()].translate(_ESCAPES))
        out.append(_math(m))
        pos = m.end()
    out.append(text[pos:].translate(_ESCAPES))
    return "".join(out).replace("$$", "")  # adjacent math runs merge


def latex_escape(text: str) -> str:
    """A name (model label, dataset's display name) for LaTeX: every special escaped, no
    notation read into it (``HRNet_w32`` stays text)."""
    return text.translate(_ESCAPES)
