"""A headless Chromium driven by Selenium, for the tests that use the report as a person would.
Debian's chromium and chromium-driver (`.ci/run` installs them); a skip that says so otherwise."""
import shutil

import pytest

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"


def find_chromium() -> tuple[str, str] | None:
    browser = next(filter(None, map(shutil.which, CHROMIUM)), None)
    driver = shutil.which(DRIVER)
    return (browser, driver) if browser and driver else None


def start_browser(width: int = 1280, height: int = 900):
    """A headless Chromium that reaches nothing but files (every host resolves nowhere)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: pip install -e '.[test]'")
    from selenium.webdriver.chrome.service import Service
    found = find_chromium()
    if found is None:
        pytest.skip("no chromium and chromedriver: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--host-resolver-rules=MAP * ~NOTFOUND", "--no-proxy-server"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(found[1]), options=options)
