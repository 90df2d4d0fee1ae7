"""Measure a plotly figure's layout by rendering it in Chromium (plotly.js, Playwright):
the bounding boxes of the title, annotations, legend, axis titles, tick labels and
colorbars, and each subplot's plot area, in CSS pixels of the figure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import plotly
import plotly.graph_objects as go

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

_MEASURE = """
async (spec) => {
  const fig = JSON.parse(spec);
  document.body.innerHTML = '';
  const div = document.createElement('div');
  document.body.appendChild(div);
  await Plotly.newPlot(div, fig.data, fig.layout, {staticPlot: true});
  const root = div.querySelector('svg.main-svg').getBoundingClientRect();
  const boxes = [];
  const add = (kind, selector) => div.querySelectorAll(selector).forEach((el) => {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && (el.textContent || kind === 'legend' || kind === 'colorbar')) {
      boxes.push({kind, text: el.textContent || '',
                  box: [r.left - root.left, r.top - root.top, r.right - root.left, r.bottom - root.top]});
    }
  });
  add('title', 'g.g-gtitle text');
  add('annotation', 'g.annotation');
  add('legend', 'g.legend');
  add('axis title', '[class^="g-x"][class$="title"] text, [class^="g-y"][class$="title"] text');
  add('tick label', 'g[class^="xtick"] text, g[class^="ytick"] text, g[class^="x2tick"] text, g[class^="y2tick"] text');
  add('colorbar', 'g.colorbar');
  // each legend entry, and whether it is drawn inside the legend's visible box (a legend
  // taller than its maximum height scrolls: the entries below its clip are not seen)
  div.querySelectorAll('g.legend').forEach((leg) => {
    const bg = leg.querySelector('rect.bg').getBoundingClientRect();
    leg.querySelectorAll('g.traces').forEach((el) => {
      const r = el.getBoundingClientRect();
      const shown = r.width > 0 && r.top >= bg.top - 0.5 && r.bottom <= bg.bottom + 0.5
        && r.left >= bg.left - 0.5 && r.right <= bg.right + 0.5;
      boxes.push({kind: shown ? 'legend entry' : 'hidden legend entry', text: el.textContent || '',
                  box: [r.left - root.left, r.top - root.top, r.right - root.left, r.bottom - root.top]});
    });
  });
  const fl = div._fullLayout;
  const plots = Object.values(fl._plots).map((p) => [p.xaxis._offset, p.yaxis._offset,
    p.xaxis._offset + p.xaxis._length, p.yaxis._offset + p.yaxis._length]);
  return {width: fl.width, height: fl.height, boxes, plots};
}
"""


@dataclass(frozen=True)
class Box:
    kind: str
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box, tol: float = 0.5) -> bool:
        return (
            min(self.x1, other.x1) - max(self.x0, other.x0) > tol
            and min(self.y1, other.y1) - max(self.y0, other.y0) > tol
        )


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    boxes: list[Box]
    plots: list[tuple[float, float, float, float]]

    def of(self, kind: str) -> list[Box]:
        return [b for b in self.boxes if b.kind == kind]

    @property
    def legend_entries(self) -> list[str]:
        """The texts of the legend entries a reader sees (inside the legend's visible box)."""
        return [b.text for b in self.of("legend entry")]


def measure(page, fig: go.Figure) -> Layout:
    """Render ``fig`` (already in its final theme and size) and measure it."""
    out = page.evaluate(_MEASURE, fig.to_json())
    boxes = [Box(b["kind"], b["text"], *b["box"]) for b in out["boxes"]]
    return Layout(out["width"], out["height"], boxes, [tuple(p) for p in out["plots"]])


def problems(layout: Layout, tol: float = 0.5) -> list[str]:
    """What is clipped or overlaps (empty when the layout is clean).

    Checks: every measured element lies inside the figure; the legend overlaps no
    plot area, annotation, axis title, tick label or colorbar; axis titles overlap no
    tick label, annotation or other axis title; annotations overlap no tick label or
    other annotation; tick labels of different axes do not overlap.
    """
    found = []
    for b in layout.boxes:
        if b.x0 < -tol or b.y0 < -tol or b.x1 > layout.width + tol or b.y1 > layout.height + tol:
            found.append(
                f"clipped {b.kind} {b.text[:40]!r} at ({b.x0:.0f}, {b.y0:.0f}, {b.x1:.0f}, {b.y1:.0f}) "
                f"in {layout.width:.0f}x{layout.height:.0f}"
            )
    pairs = [
        ("legend", "annotation"),
        ("legend", "axis title"),
        ("legend", "tick label"),
        ("legend", "colorbar"),
        ("legend", "title"),
        ("axis title", "tick label"),
        ("axis title", "annotation"),
        ("axis title", "axis title"),
        ("annotation", "annotation"),
        ("annotation", "tick label"),
        ("title", "annotation"),
        ("title", "axis title"),
        ("colorbar", "tick label"),
        ("colorbar", "annotation"),
        ("colorbar", "axis title"),
    ]
    boxes = layout.boxes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            kinds = (a.kind, b.kind)
            if (kinds in pairs or kinds[::-1] in pairs) and a.overlaps(b, tol):
                found.append(f"{a.kind} {a.text[:40]!r} overlaps {b.kind} {b.text[:40]!r}")
    found += [f"legend entry {b.text[:40]!r} hidden (the legend scrolls)" for b in layout.of("hidden legend entry")]
    entries = layout.of("legend entry")
    for i, a in enumerate(entries):
        for b in entries[i + 1 :]:
            if a.overlaps(b, tol):
                found.append(f"legend entry {a.text[:40]!r} overlaps legend entry {b.text[:40]!r}")
    for leg in layout.of("legend"):
        for x0, y0, x1, y1 in layout.plots:
            if leg.overlaps(Box("plot", "", x0, y0, x1, y1), tol):
                found.append("legend overlaps a plot area")
    return found
