"""The admin index chart: leads per day per platform, drawn as inline SVG (no script, no CDN)."""

from __future__ import annotations

from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

COLOURS = {"CarDekho": "#1f6feb", "CarWale": "#d9480f"}
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 760, 240, 40, 30, 20


def leads_chart(dates: list[date], series: dict[str, list[int]]) -> SafeString:
    days = len(dates)
    peak = max([1, *(n for counts in series.values() for n in counts)])
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(days, 1)
    bar = max(slot / (len(series) + 1), 1)
    bars = []
    for index, day in enumerate(dates):
        for offset, (platform, counts) in enumerate(series.items()):
            n = counts[index]
            h = plot_h * n / peak
            x = LEFT + index * slot + offset * bar + bar / 2
            bars.append(
                (
                    f"{x:.1f}",
                    f"{TOP + plot_h - h:.1f}",
                    f"{bar:.1f}",
                    f"{h:.1f}",
                    COLOURS.get(platform, "#777"),
                    f"{day:%d %b}: {n} {platform} lead{'s' if n != 1 else ''}",
                )
            )
    rects = format_html_join("", '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>', bars)
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>',
        (
            (f"{LEFT + i * slot + slot / 2:.1f}", HEIGHT - 10, f"{d:%d %b}")
            for i, d in enumerate(dates)
            if i % 5 == 0 or i == days - 1
        ),
    )
    legend = format_html_join(
        "",
        '<rect x="{}" y="4" width="10" height="10" fill="{}"></rect><text x="{}" y="13" font-size="12">{}: {}</text>',
        (
            (LEFT + 150 * i, COLOURS.get(p, "#777"), LEFT + 150 * i + 14, p, sum(c))
            for i, (p, c) in enumerate(series.items())
        ),
    )
    return format_html(
        '<svg class="leads-chart" role="img" aria-label="Leads per day per platform, last {} days" '
        'viewBox="0 0 {} {}" width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"></line>'
        '<text x="4" y="{}" font-size="11">{}</text><text x="4" y="{}" font-size="11">0</text>'
        "{}{}{}</svg>",
        days,
        WIDTH,
        HEIGHT,
        LEFT,
        TOP + plot_h,
        WIDTH - 10,
        TOP + plot_h,
        TOP + 10,
        peak,
        TOP + plot_h,
        legend,
        rects,
        labels,
    )
