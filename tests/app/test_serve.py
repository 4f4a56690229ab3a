"""`emergence-tui serve` in a real headless browser (Debian's chromium through selenium).

The server is started as the user would start it; the browser opens the printed address, waits for the app
to paint and settle (two screenshots a second apart that are the same), presses ``?`` and sees the screen
change (the help), presses Escape and sees the first screen again, pixel for pixel. The screenshots are
written to the folder ``SERVE_SCREENSHOTS`` names, when it is set, to be looked at. Skipped, saying so, when
chromium or chromedriver is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
    ),
    pytest.mark.xdist_group("tmux"),  # a browser and an app beside the terminal tests, not beside each other
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert f"serving the app on http://127.0.0.1:{port}" in line, line
        yield f"http://127.0.0.1:{port}/", process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def browser() -> Iterator:
    webdriver = pytest.importorskip("selenium.webdriver")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def settled(driver, seconds: float) -> bytes:
    """A screenshot once two taken a second apart are the same (the app painted and idle)."""
    deadline = time.monotonic() + seconds
    last = driver.get_screenshot_as_png()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        shot = driver.get_screenshot_as_png()
        if shot == last:
            return shot
        last = shot
    raise AssertionError(f"the page did not settle in {seconds} s")


def keep(name: str, png: bytes) -> None:
    folder = os.environ.get("SERVE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_bytes(png)


def test_serve_shows_the_app_in_a_browser_and_answers_keys(server, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, process = server
    browser.get(url)
    named = time.monotonic() + 15  # on a busy machine the server may answer after get() returns
    while "emergence-tui" not in browser.page_source and time.monotonic() < named:
        time.sleep(0.2)
    assert "emergence-tui" in browser.page_source  # the name on the page before the app paints
    deadline = time.monotonic() + 30  # the app's first bytes: the page drops its intro dialog
    while "-first-byte" not in (browser.find_element(By.TAG_NAME, "body").get_attribute("class") or ""):
        assert time.monotonic() < deadline, "the app never painted in the browser"
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.2)
    keyboard = browser.find_element(By.CSS_SELECTOR, ".textual-terminal .xterm-helper-textarea")
    browser.execute_script("arguments[0].focus()", keyboard)  # no click: a click would move the cursor
    overview = settled(browser, 60)
    keep("overview.png", overview)
    keyboard.send_keys("?")
    time.sleep(1.0)
    help_screen = settled(browser, 15)
    keep("help.png", help_screen)
    assert help_screen != overview, "the key press did not change the screen"
    keyboard.send_keys(Keys.ESCAPE)
    time.sleep(1.0)
    back = settled(browser, 15)
    keep("back.png", back)
    assert back != help_screen
    assert back == overview, "Escape did not bring the overview back as it was"
    assert process.poll() is None, "the server stopped"
