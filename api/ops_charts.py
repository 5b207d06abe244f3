"""Inline SVG charts for the ops pages: drawn on the server, no script, no network.

Two shapes: a bar per aging bucket (the open balance of one currency), and a histogram
of a cycle-time distribution with its median and p90 written beside it. Each bar carries a
<title> (a tooltip in the browser) with its exact figure; every label is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from domain.receivables import BUCKET_LABELS, BUCKETS, histogram

BUCKET_COLOURS = {
    "current": "#2f855a",
    "1-30": "#d69e2e",
    "31-60": "#dd6b20",
    "61-90": "#c53030",
    "over-90": "#822727",
}
_W, _H = 560, 250
_TOP, _BOTTOM, _LEFT, _RIGHT = 28, 44, 12, 12


def _bars(
    values: Sequence[float],
    labels: Sequence[str],
    captions: Sequence[str],
    colours: Sequence[str],
    title: str,
    width: int = _W,
) -> Markup:
    peak = max(values, default=0) or 1
    slot = (width - _LEFT - _RIGHT) / max(1, len(values))
    bar = slot * 0.62
    height = _H - _TOP - _BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {_H}" role="img"'
        f' aria-label="{escape(title)}" width="100%" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{_LEFT}" y1="{_H - _BOTTOM}" x2="{width - _RIGHT}" y2="{_H - _BOTTOM}"'
        ' stroke="#cbd2d9"/>',
    ]
    for i, (value, label, caption, colour) in enumerate(
        zip(values, labels, captions, colours, strict=True)
    ):
        h = 0 if value <= 0 else max(2.0, value / peak * height)
        x = _LEFT + i * slot + (slot - bar) / 2
        y = _H - _BOTTOM - h
        centre = x + bar / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" rx="3"'
            f' fill="{colour}"><title>{escape(label)}: {escape(caption)}</title></rect>'
        )
        ink = "#1f2933" if value > 0 else "#9aa5b1"
        parts.append(
            f'<text x="{centre:.1f}" y="{y - 6:.1f}" text-anchor="middle" font-size="12"'
            f' font-weight="600" fill="{ink}">{escape(caption)}</text>'
        )
        parts.append(
            f'<text x="{centre:.1f}" y="{_H - _BOTTOM + 18}" text-anchor="middle"'
            f' font-size="12" fill="#52606d">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def aging_chart(buckets: dict[str, int], currency: str, money: Callable[[int, str], str]) -> Markup:
    """The open balance of one currency per aging bucket."""
    values = [buckets.get(b, 0) for b in BUCKETS]
    return _bars(
        values,
        [BUCKET_LABELS[b] for b in BUCKETS],
        [money(v, currency) for v in values],
        [BUCKET_COLOURS[b] for b in BUCKETS],
        f"Open balance in {currency} by days past due",
    )


def bin_labels(edges: Sequence[float], unit_hours: float, unit: str) -> list[str]:
    def n(hours: float) -> str:
        return f"{hours / unit_hours:g}"

    labels = [f"{n(a)}–{n(b)} {unit}" for a, b in zip(edges, edges[1:], strict=False)]
    return [*labels, f"≥ {n(edges[-1])} {unit}"]


def distribution_chart(
    hours: Sequence[float], edges: Sequence[float], unit_hours: float, unit: str, title: str
) -> Markup:
    """A histogram of cycle times (in hours), binned at `edges` and labelled in `unit`."""
    counts = histogram(hours, edges)
    return _bars(
        counts,
        bin_labels(edges, unit_hours, unit),
        [str(c) for c in counts],
        ["#486581"] * len(counts),
        title,
        width=400,
    )
