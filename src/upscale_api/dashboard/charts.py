"""Charts drawn on the server as SVG: no chart library, no script, nothing fetched.

Each function takes the numbers and returns markup safe to put in a template: an
``<svg role="img">`` with a title (what screen readers announce) and a ``<title>`` on
every bar or cell (what a pointer shows). The numbers are also in a table beside each
chart in the templates, so nothing is only in a picture. Colours come from the
stylesheet (``.series-N``), so a chart follows the page's theme and prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from upscale_api.dashboard.texts import Language, figure

WIDTH = 720
HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 12, 12, 40


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (an axis' top)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _axis(value: float, ticks: int = 5) -> tuple[float, float]:
    """An axis' top and step: ``ticks`` steps or fewer of 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0, 0.25
    rough = value / ticks
    power = 10 ** math.floor(math.log10(rough))
    step = next(s * power for s in (1, 2, 5, 10) if rough <= s * power)
    return math.ceil(value / step) * step, step


def number(value: float, language: Language = "en") -> str:
    """A figure as people read it, with the language's separators: whole from 100 on, one decimal
    from 10 on, else up to two (1.234 or 1,234; 2,5 or 2.5)."""
    decimals = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    shown = figure(value, language, decimals)
    if decimals:
        point = "," if language == "sl" else "."
        shown = shown.rstrip("0").rstrip(point)
    return shown


def _share(value: float, target: float) -> str:
    share = value / target * 100
    return f"{share:.0f} %" if share >= 10 or share == 0 else f"{share:.2g} %"


def bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    unit: str,
    *,
    label_every: int = 1,
    whole: bool = False,
    language: Language = "en",
) -> Markup:
    """Vertical bars, one per label, stacked when there are several series (each a name and one
    value per label). ``label_every`` thins the axis labels of long periods; ``whole``: the
    values are counts, ticked in whole numbers."""
    width, height = WIDTH, HEIGHT
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    top, step_value = _axis(max(totals, default=0))
    if whole and step_value < 1:  # counts of people: no fractional ticks
        top, step_value = max(math.ceil(top), 1), 1.0
    parts = [_frame(title, width, height)]
    for step in range(round(top / step_value) + 1):
        value = step * step_value
        y = _TOP + plot_h - plot_h * value / top
        tick = escape(number(value, language))
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    slot = plot_w / max(len(labels), 1)
    bar_w = min(max(slot * 0.72, 1.0), 64.0)
    for i, label in enumerate(labels):
        x = _LEFT + i * slot + (slot - bar_w) / 2
        base = float(_TOP + plot_h)
        for n, (name, values) in enumerate(series):
            h = plot_h * values[i] / top
            if h <= 0:
                continue
            base -= h
            tip = (
                f"{label}: {name} {number(values[i], language)} {unit}"
                if len(series) > 1
                else f"{label}: {number(values[i], language)} {unit}"
            )
            parts.append(
                f'<rect class="bar series-{n}" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{height - _BOTTOM + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append(f'<text class="axis unit" x="{_LEFT}" y="{height - 6}">{escape(unit)}</text>')
    if len(series) > 1:
        parts.append(_legend([name for name, _ in series], width))
    parts.append("</svg>")
    return _svg(parts)


def heatmap(
    title: str, rows: Sequence[str], columns: Sequence[str], shares: dict[tuple[str, str], tuple[int, int]]
) -> Markup:
    """A grid of rows by columns; each cell a count of a size (``active`` of ``size``), shaded by
    the share and labelled with it in percent. Cells without a value stay empty."""
    cell_w, cell_h, left, top = 64, 26, 92, 22
    width = left + cell_w * max(len(columns), 1) + 4
    height = top + cell_h * max(len(rows), 1) + 4
    parts = [_frame(title, width, height, natural=True)]
    for j, column in enumerate(columns):
        parts.append(
            f'<text class="axis" x="{left + j * cell_w + cell_w / 2:.0f}" y="{top - 8}" '
            f'text-anchor="middle">{escape(column)}</text>'
        )
    for i, row in enumerate(rows):
        y = top + i * cell_h
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{y + cell_h / 2 + 4:.0f}" text-anchor="end">{escape(row)}</text>'
        )
        for j, column in enumerate(columns):
            found = shares.get((row, column))
            if found is None:
                continue
            active, size = found
            share = active / size if size else 0.0
            x = left + j * cell_w
            tip = f"{row} → {column}: {active} / {size}"
            parts.append(
                f'<rect class="cell" x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                f'fill-opacity="{0.12 + 0.88 * share:.2f}"><title>{escape(tip)}</title></rect>'
                f'<text class="cell-label{" light" if share > 0.55 else ""}" x="{x + cell_w / 2 - 1:.0f}" '
                f'y="{y + cell_h / 2 + 4:.0f}" text-anchor="middle">{share:.0%}</text>'
            )
    parts.append("</svg>")
    return _svg(parts)


def progress(title: str, value: float, target: float, unit: str, language: Language = "en") -> Markup:
    """One horizontal bar from 0 to ``target`` filled to ``value`` (capped at the end)."""
    width, height = WIDTH, 34
    share = min(value / target, 1.0) if target > 0 else 0.0
    filled = (width - 2) * share
    label = (
        f"{number(value, language)} / {number(target, language)} {unit} ({_share(value, target)})"
        if target > 0
        else number(value, language)
    )
    return _svg(
        [
            _frame(title, width, height),
            f'<rect class="track" x="1" y="4" width="{width - 2}" height="24" rx="4"/>',
            f'<rect class="bar series-0" x="1" y="4" width="{filled:.1f}" height="24" rx="4">',
            f"<title>{escape(label)}</title></rect>",
            f'<text class="bar-label{" light" if share > 0.4 else ""}" x="10" y="21">{escape(label)}</text></svg>',
        ]
    )


def ranking(title: str, entries: Sequence[tuple[str, float]], unit: str, language: Language = "en") -> Markup:
    """Horizontal bars, one per entry (a name and its value), in the order given."""
    row_h, left = 30, 160
    width = WIDTH
    height = row_h * max(len(entries), 1) + 8
    top = _nice_ceiling(max((v for _, v in entries), default=0))
    parts = [_frame(title, width, height)]
    for i, (name, value) in enumerate(entries):
        y = 4 + i * row_h
        w = (width - left - 90) * value / top
        shown = escape(f"{number(value, language)} {unit}")
        parts.append(
            f'<text class="axis" x="{left - 8}" y="{y + 18}" text-anchor="end">{escape(name)}</text>'
            f'<rect class="bar series-{min(i, 1)}" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 10}">'
            f"<title>{escape(name)}: {shown}</title></rect>"
            f'<text class="axis" x="{left + w + 6:.1f}" y="{y + 18}">{shown}</text>'
        )
    parts.append("</svg>")
    return _svg(parts)


def _svg(parts: list[str]) -> Markup:
    # Safe: every text inside (titles, labels, names) went through escape() where it was written.
    return Markup("".join(parts))  # noqa: S704


def _frame(title: str, width: int, height: int, *, natural: bool = False) -> str:
    size = f'class="chart natural" width="{width}" height="{height}"' if natural else 'class="chart" width="100%"'
    return (
        f'<svg {size} role="img" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )


def _legend(names: Sequence[str], width: int) -> str:
    parts, x = [], _LEFT + 90.0
    for n, name in enumerate(names):
        parts.append(
            f'<rect class="series-{n}" x="{x:.0f}" y="{HEIGHT - 16}" width="10" height="10"/>'
            f'<text class="axis" x="{x + 14:.0f}" y="{HEIGHT - 7}">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
        if x > width - 60:
            break
    return "".join(parts)
