"""The report as one self-contained HTML file: the summary as HTML and SVG, every seed's record as
inline JSON, the page's CSS and script inline. Nothing is fetched when it opens.

Records are written to a temporary file beside the report as the walk makes them, then copied
into the page after the summary, so memory holds counters, not conversations.
"""
import json
from html import escape
from importlib.resources import files
from pathlib import Path

from ..storage.files import temp_beside
from .plots import checks_plot, cost_plot, sentence_plot


def asset(name: str) -> str:
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


def script_json(value: object) -> str:
    """JSON safe inside a <script> element: "</" cannot close it ("<\\/" is the same JSON string)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


class RecordFile:
    """Seed records, one JSON value a line, in a temporary file until the page takes them."""

    def __init__(self, report: Path):
        self.path = temp_beside(report.with_name(report.name + ".records"))
        self.file = open(self.path, "w", encoding="utf-8")
        self.count = 0

    def write(self, record: dict) -> None:
        self.file.write(("," if self.count else "") + script_json(record) + "\n")
        self.count += 1

    def close(self) -> None:
        self.file.close()


def headline(summary: dict) -> str:
    top = summary["sentences"][0] if summary["sentences"] else None
    if top is None:
        return "No conversation is in the dataset."
    return (f"The most repeated assistant sentence, \u201c{escape(top['sentence'])}\u201d, is in "
            f"<b>{top['share']:.0%}</b> of the dataset's conversations ({top['count']} of {summary['in_dataset']}).")


def link_rows(items: list[dict], key: str, kind: str) -> str:
    rows = [f'<tr><td>{item["count"]}</td><td>{item["share"]:.1%}</td><td><a href="#" data-{kind}="'
            f'{escape(item[key])}">{escape(item[key]) or "(empty)"}</a></td></tr>' for item in items]
    return f"<table><tr><th>conversations</th><th>share</th><th>{kind}</th></tr>{''.join(rows)}</table>"


def counts_table(counts: dict, head: str) -> str:
    rows = "".join(f"<tr><td>{escape(str(name))}</td><td>{count}</td></tr>" for name, count in counts.items())
    return f"<table><tr><th>{head}</th><th>seeds</th></tr>{rows}</table>" if rows else "<p>none</p>"


def duplicates_html(duplicates: list[dict]) -> str:
    if not duplicates:
        return "<p>No duplicates were dropped by the last <code>make dataset</code>.</p>"
    rows = [f'<tr><td><a href="#" data-pair="{d["seed"]}">seed {d["seed"]} beside seed {d["kept_seed"]}</a></td>'
            f'<td>{escape(d["kind"])}</td><td>{d["similarity"]}</td></tr>' for d in duplicates]
    return f"<table><tr><th>dropped, beside the one kept</th><th>kind</th><th>similarity</th></tr>{''.join(rows)}</table>"


def axes_html(axes: dict) -> str:
    parts = []
    for name, items in sorted(axes.items()):
        ranked = sorted(items.items(), key=lambda item: (-item[1][0], item[0]))
        rows = "".join(f"<tr><td>{escape(item)}</td><td>{drawn}</td><td>{kept}</td></tr>" for item, (drawn, kept) in ranked)
        parts.append(f"<h3>{escape(name)}: {len(items)} items drawn</h3><table><tr><th>item</th><th>seeds drawn</th>"
                     f"<th>in the dataset</th></tr>{rows}</table>")
    return "".join(parts)


def dollars(value: float | None) -> str:
    return "" if value is None else f"${value:.5f}"


def models_html(models: dict) -> str:
    rows = "".join(
        f"<tr><td>{escape(model)}</td><td>{n['valid_seeds']}/{n['seeds']}</td><td>{n['answers']}</td>"
        f"<td>{n['prompt_tokens']:,}</td><td>{n['completion_tokens']:,}</td><td>${n['cost']:.4f}</td>"
        f"<td>{dollars(n['cost_per_valid'])}</td></tr>" for model, n in sorted(models.items()))
    return ("<table><tr><th>model</th><th>valid seeds</th><th>answers</th><th>prompt tokens</th>"
            f"<th>completion tokens</th><th>dollars</th><th>per valid</th></tr>{rows}</table>")


LIST_HTML = """<h2 id="seeds">Seeds</h2>
<div id="filters"><input id="search" type="search" placeholder="search the text or a seed" size="32">
<select id="status"><option value="">any status</option></select><select id="reason"><option value="">any reason</option></select>
<select id="rule"><option value="">any rule</option></select><select id="model"><option value="">any model</option></select>
<span id="count"></span> <span class="pager"><button id="prev">&lsaquo;</button><span id="page"></span><button id="next">&rsaquo;</button></span>
<span id="linked"></span> <button id="clear" hidden>clear</button></div>
<table><thead><tr><th>seed</th><th>status</th><th>model</th><th>reasons</th><th>first user message</th></tr></thead>
<tbody id="list"></tbody></table>
<div id="decisions" hidden><h3>Decisions made on this page</h3><p>The page cannot write files: run these
commands in the project folder, then <code>make dataset</code>.</p><textarea id="commands" readonly></textarea>
<button id="copy">Copy</button></div>
<div id="detail" hidden></div>
"""


def summary_html(summary: dict, title: str) -> str:
    return f"""<h1>{escape(title)}</h1>
<nav><a href="#seeds">Seeds</a><a href="#sentences">Repeated sentences</a><a href="#openings">Openings</a>
<a href="#duplicates">Duplicates</a><a href="#axes">Axes</a><a href="#models">Cost per model</a></nav>
<p class="headline">{headline(summary)}</p>
{sentence_plot(summary)}
{checks_plot(summary)}
{cost_plot(summary)}
<h2>Verdicts</h2><div class="sides"><div>{counts_table(summary["statuses"], "status")}</div>
<div>{counts_table(summary["reasons"], "reason (any attempt)")}</div>
<div>{counts_table(summary["rules"], "rule (problem kind)")}</div></div>
{LIST_HTML}<h2 id="sentences">Most repeated assistant sentences</h2>{link_rows(summary["sentences"], "sentence", "sentence")}
<h2 id="openings">Most repeated assistant openings (first five words)</h2>{link_rows(summary["openings"], "opening", "opening")}
<h2 id="duplicates">Duplicates</h2>{duplicates_html(summary["duplicates"])}
<h2 id="axes">Axis coverage</h2>{axes_html(summary["axes"])}
<h2 id="models">Cost and tokens per model</h2>{models_html(summary["models"])}
"""




def write_page(path: Path, records: RecordFile, summary: dict, title: str, settings: dict) -> None:
    """Assemble the page from the summary and the records file, then move it into place."""
    tmp = temp_beside(path)
    with open(tmp, "w", encoding="utf-8") as page, open(records.path, encoding="utf-8") as lines:
        page.write(f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
                   f'<meta name="viewport" content="width=device-width"><style>{asset("page.css")}</style></head><body>')
        page.write(summary_html(summary, title))
        page.write(f'<script id="settings" type="application/json">{script_json(settings)}</script>')
        page.write('<script id="records" type="application/json">[')
        for line in lines:
            page.write(line)
        page.write(f"]</script><script>{asset('page.js')}</script></body></html>\n")
    tmp.replace(path)
    records.path.unlink()
