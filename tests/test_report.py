"""`make report`: one HTML file that opens from disk, driven in a real headless Chromium: open,
search, filter by reason, open a rejected attempt, record a review decision and apply it."""
import json
import re
import subprocess

import pytest
from browser import start_browser
from conftest import ROOT, project_env, run
from reviewrun import LEAK, REPEATED, dataset_lines, locate, stages, store_run

from stages.commands.report import report_path
from stages.judging.decisions import load_decisions


def records_of(page: str) -> list[dict]:
    data = re.search(r'<script id="records" type="application/json">(.*?)</script>', page, re.S)[1]
    return json.loads(data)


@pytest.fixture
def report(rendered):
    store_run(rendered)
    stages(rendered, "dataset", "--n", 5)
    stages(rendered, "report", "--n", 5)
    return rendered, report_path(rendered[0])


def test_the_page_holds_every_seed_and_the_repeated_sentence_first(report):
    dirs, path = report
    page = path.read_text(encoding="utf-8")
    records = {r["seed"]: r for r in records_of(page)}
    assert {seed: r["status"] for seed, r in records.items()} == {
        0: "valid", 1: "valid", 2: "rejected", 3: "rejected", 4: "duplicate"}
    assert records[2]["attempts"][0]["problems"] == [["identity_leak", LEAK]]
    assert records[4]["duplicate"]["kept_seed"] == 0
    headline = re.search(r'<p class="headline">(.*?)</p>', page)[1]
    assert REPEATED in headline and "<b>100%</b>" in headline and "(2 of 2)" in headline
    assert page.index("headline") < page.index("<svg")  # the repeated sentence is the first thing said
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing to fetch


def test_a_closing_script_tag_in_a_conversation_cannot_break_the_page(rendered):
    from reviewrun import answer
    from conftest import store_answer
    store_answer(rendered, 0, 0, answer("say </script><b>x", "Sure: </script> done."))
    stages(rendered, "report", "--n", 1)
    page = report_path(rendered[0]).read_text(encoding="utf-8")
    assert records_of(page)[0]["messages"][1] == ["assistant", "Sure: </script> done."]


def test_no_cache_is_one_line(dirs):
    result = run("report", "--n", 1, *locate(dirs))
    assert result.exit_code == 1
    assert "no cache at" in result.output


@pytest.fixture
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


def visible_seeds(driver) -> list[int]:
    """The seeds listed, read in one script call: rows found first and read after could be
    redrawn in between (a stale reference, seen under a loaded parallel run)."""
    return driver.execute_script("return [...document.querySelectorAll('#list tr')].map(row => +row.dataset.seed)")


def settled(browser, read):
    """read(browser) once the page stops replacing what it reads: a list redrawn while an element
    is found, or clicked, leaves a stale reference (seen under a loaded parallel run)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait
    found = []
    WebDriverWait(browser, 5, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: found.append(read(d)) or True)
    return found[-1]


def click(browser, selector: str) -> None:
    from selenium.webdriver.common.by import By
    settled(browser, lambda d: d.find_element(By.CSS_SELECTOR, selector).click())


def test_the_report_in_a_browser_searches_filters_and_records_a_decision(report, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    dirs, path = report
    browser.get(path.as_uri())
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
    assert visible_seeds(browser) == [0, 1, 2, 3, 4]
    search = browser.find_element(By.ID, "search")
    search.send_keys("ask me anything")
    WebDriverWait(browser, 5).until(lambda d: visible_seeds(d) == [1])
    search.clear()
    search.send_keys(" ")  # clear() fires no input event
    WebDriverWait(browser, 5).until(lambda d: len(visible_seeds(d)) == 5)
    Select(browser.find_element(By.ID, "reason")).select_by_visible_text("identity_leak")
    WebDriverWait(browser, 5).until(lambda d: visible_seeds(d) == [1, 2])
    click(browser, '#list tr[data-seed="2"]')
    click(browser, "#detail details summary")
    marked = settled(browser, lambda d: [m.text for m in d.find_elements(By.CSS_SELECTOR, "#detail .attempt-body mark")])
    assert marked == [LEAK]
    browser.find_element(By.ID, "note").send_keys("the judge's call, not a leak")
    browser.find_element(By.ID, "keep").click()
    command = browser.find_element(By.ID, "command").text
    assert command.startswith("make review SEED=2 KEEP=1 NOTE='the judge'\\''s call, not a leak' DIGEST=")
    assert command.endswith(f" DATA_DIR={dirs[0]}")  # the run record there holds the other settings
    pasted = subprocess.run(["bash", "-c", command], cwd=ROOT, env=project_env(), capture_output=True, text=True,
                            timeout=120)  # the page's command, pasted into a shell as it is
    assert pasted.returncode == 0, pasted.stderr
    assert load_decisions(dirs[0])[2].note == "the judge's call, not a leak"
    stages(dirs, "dataset", "--n", 5)
    assert any(LEAK in m["content"] for line in dataset_lines(dirs) for m in line)


def test_a_repeated_sentence_links_to_the_conversations_holding_it(report, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    dirs, path = report
    browser.get(path.as_uri())
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
    click(browser, f'a[data-sentence="{REPEATED}"]')
    WebDriverWait(browser, 5).until(lambda d: visible_seeds(d) == [0, 1])
    click(browser, 'a[data-pair="4"]')
    sides = settled(browser, lambda d: [side.text for side in d.find_elements(By.CSS_SELECTOR, "#detail .sides > div h4")])
    assert sides == ["seed 0 (valid)", "seed 4 (duplicate)"]


def test_after_the_demo_the_report_lists_every_conversation_in_a_browser(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    demo = run("demo", "--data-dir", tmp_path)
    assert demo.exit_code == 0, demo.output
    settings = dict(part.split("=", 1) for part in re.search(r"`make report ([^`]*)`", demo.output)[1].split())
    result = run("report", "--data-dir", settings["DATA_DIR"])  # the demo's run record holds the rest
    assert result.exit_code == 0, result.output
    browser.get(report_path(tmp_path / "demo").as_uri())
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
    assert browser.find_element(By.ID, "count").text == "20 of 20 seeds"
    headline = browser.find_element(By.CSS_SELECTOR, ".headline").text
    assert re.search(r"The most repeated assistant sentence, .+, is in \d+% of the dataset's conversations "
                     r"\(\d+ of 20\)", headline), headline
    Select(browser.find_element(By.ID, "reason")).select_by_visible_text("identity_leak")
    WebDriverWait(browser, 5).until(lambda d: 0 < len(visible_seeds(d)) < 20)
