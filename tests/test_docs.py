"""The docs: the README stays a short front door linking every page of docs/, the variable table
of docs/configuration.md lists what `make help` lists, and no relative link points nowhere."""
import re
from pathlib import Path

import pytest

from conftest import ROOT

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
README = ROOT / "README.md"
README_MOST_WORDS = 2500
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def make_help_variables() -> dict[str, str]:
    """Name -> default of every variable `make help` lists: a `NAME ?= default` line of the Makefile
    (the rule of help's awk), each with its own `## ` description above it."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    variables = {}
    for above, line in zip([""] + lines, lines):
        match = re.match(r"^([A-Z_]+) \?=\s*(.*)$", line)
        if match:
            assert above.startswith("## "), f"Makefile: {match[1]} has no `## ` description above it"
            variables[match[1]] = match[2].strip()
    return variables


def variable_table(text: str | None = None) -> dict[str, str]:
    """Name -> default cell of each row of the table under `## Variables` in docs/configuration.md."""
    text = (DOCS / "configuration.md").read_text() if text is None else text
    section = text.split("\n## Variables\n", 1)[1].split("\n## ", 1)[0]
    table = {}
    for row in section.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if row.startswith("| `") and len(cells) >= 3:
            for name in re.findall(r"`([A-Z_]+)`", cells[0]):
                assert name not in table, f"{name} is listed twice"
                table[name] = cells[1]
    return table


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"(?ms)^```.*?^```", "", text)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(page: Path) -> set[str]:
    """The heading anchors GitHub gives a page: lower case, punctuation dropped, spaces as hyphens."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"(?m)^#{1,6} (.+)$", prose(page.read_text())):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
        if seen[slug]:
            seen[f"{slug}-{seen[slug]}"] = 0
    return set(seen)


def relative_links(page: Path) -> list[str]:
    return [target for target in LINK.findall(prose(page.read_text()))
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


def test_the_variable_table_lists_exactly_the_variables_of_make_help():
    listed, documented = make_help_variables(), variable_table()
    assert sorted(set(listed) - set(documented)) == [], "add these to docs/configuration.md"
    assert sorted(set(documented) - set(listed)) == [], "not make variables: take them out of the table"


def test_the_variable_table_gives_the_makefile_defaults():
    documented = variable_table()
    for name, default in make_help_variables().items():
        cell = documented[name].strip("`")
        if default:
            assert cell == default, f"{name}: the docs say {cell}, the Makefile {default}"
        else:
            assert cell.startswith("("), f"{name} has no default: say what empty means, e.g. (none)"


def test_the_table_reader_sees_a_missing_row_and_a_row_twice():
    text = (DOCS / "configuration.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `TIMEOUT` |"))
    assert "TIMEOUT" not in variable_table(text.replace(row + "\n", ""))
    assert len(variable_table(text)) > 30
    with pytest.raises(AssertionError, match="TIMEOUT is listed twice"):
        variable_table(text.replace(row, row + "\n" + row))


def test_the_readme_is_at_most_2500_words():
    assert len(README.read_text().split()) <= README_MOST_WORDS


def test_the_readme_links_every_page_of_docs():
    linked = {(ROOT / target.split("#")[0]).resolve() for target in relative_links(README)}
    assert len(PAGES) >= 4
    assert [page.name for page in PAGES if page.resolve() not in linked] == []


@pytest.mark.parametrize("page", [README] + PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_points_at_a_file_that_exists(page):
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{page.name}: {target} points at no file"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file), f"{page.name}: {target} names no heading of {file.name}"


@pytest.mark.parametrize("heading, slug", [
    ("## Half price: the Batch API (BATCH=1)", "half-price-the-batch-api-batch1"),
    ("## Your identity's facts", "your-identitys-facts"),
    ("### What 1,000 conversations cost", "what-1000-conversations-cost"),
    ("## A mix of generators (MODELS)", "a-mix-of-generators-models"),
])
def test_anchors_follow_githubs_rule(tmp_path, heading, slug):
    page = tmp_path / "page.md"
    page.write_text(f"# Title\n\n{heading}\n\n```\n## not a heading\n```\n")
    assert slug in anchors(page) and "not-a-heading" not in anchors(page)


def test_make_help_lists_every_target_and_variable():
    import re
    import subprocess
    makefile = (ROOT / "Makefile").read_text()
    shown = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    targets = re.findall(r"^([a-z-]+):.*## ", makefile, re.M)
    assert "help" in targets and all(f"make {target}" in shown for target in targets)
    assert all(f"  {name} " in shown for name in re.findall(r"^([A-Z_]+) \?=", makefile, re.M))
