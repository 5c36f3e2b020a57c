"""The report's plots as inline SVG (no image files, no plotting library): labelled horizontal bars.

The first plot is the share of conversations holding each most repeated assistant sentence: a
sentence in every conversation teaches the model that one line, whatever else the data says.
"""
from html import escape

WIDTH, LABEL, ROW = 900, 380, 22


def shorten(text: str, limit: int = 54) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def bars(title: str, rows: list[tuple[str, float | None, str]], top: float = 1.0) -> str:
    """One bar per (label, value, text); value None draws no bar ("not measured"), top is the full width."""
    height = 34 + ROW * len(rows)
    span = WIDTH - LABEL - 250
    parts = [f'<svg class="plot" role="img" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<text x="0" y="16" class="plot-title">{escape(title)}</text>']
    for index, (label, value, text) in enumerate(rows):
        y = 28 + ROW * index
        width = 0 if value is None or top <= 0 else max(1.0, span * min(value / top, 1.0))
        parts.append(f'<text x="{LABEL - 6}" y="{y + 14}" text-anchor="end"><title>{escape(label)}</title>'
                     f'{escape(shorten(label))}</text>')
        parts.append(f'<rect x="{LABEL}" y="{y + 3}" width="{width:.1f}" height="{ROW - 6}"/>')
        parts.append(f'<text x="{LABEL + width + 6:.1f}" y="{y + 14}">{escape(text)}</text>')
    return "".join(parts) + "</svg>"


def percent(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1%}"


def sentence_plot(summary: dict) -> str:
    rows = [(item["sentence"], item["share"], f"{item['share']:.0%} ({item['count']})")
            for item in summary["sentences"][:10]]
    title = "Most repeated assistant sentences: share of the dataset's conversations holding each"
    return bars(title, rows or [("no conversation in the dataset", None, "")])


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def checks_plot(summary: dict) -> str:
    statuses, leaks, judge = summary["statuses"], summary["leaks"] or {}, summary["judge"]
    seeds = sum(statuses.values())
    rows = [("seeds in the dataset", share(summary["in_dataset"], seeds)),
            ("seeds rejected", share(statuses.get("rejected", 0), seeds)),
            ("seeds dropped as duplicates", share(statuses.get("duplicate", 0), seeds)),
            ("answers rejected as identity leaks", leaks.get("rate")),
            ("conversations the judge passed", share(judge["passed"], judge["judged"]) if judge["run"] else None)]
    return bars("Checks: shares of seeds and answers", [(label, value, percent(value)) for label, value in rows])


def cost_plot(summary: dict) -> str:
    models = summary["models"]
    rows = [(model, numbers["cost_per_valid"], "no valid conversation" if numbers["cost_per_valid"] is None
             else f"${numbers['cost_per_valid']:.5f} per valid, ${numbers['cost']:.4f} in all")
            for model, numbers in sorted(models.items())]
    top = max((numbers["cost_per_valid"] or 0 for numbers in models.values()), default=0)
    return bars("Dollars per valid conversation, by generator model", rows or [("no model", None, "")], top)
