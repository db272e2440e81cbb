"""The demo's example page in a real browser: the link it prints opens a page whose frames show
the embedded panels live (frame-ancestors lets that page frame them), and each panel keeps
working on its own embed cookie once the producer's sign-in is gone."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from components import ids
from tests.browser.support import CHART_JS, wait_until
from tests.demo_run import (
    line_with,
    link_of,
    read_banner,
    running_demo,
    stop,
    wait_for_scored_sessions,
)
from tests.redis_server import free_port

pytestmark = pytest.mark.browser

PANELS = 4


def test_the_demo_example_page_frames_its_panels_live(tmp_path: Path, dash_br: Any) -> None:
    port = free_port()
    driver = dash_br.driver
    with running_demo(tmp_path, port, background=True) as proc:
        lines = read_banner(proc)
        found = re.search(r"Bearer ([^']+)'", line_with(lines, "JSON API"))
        assert found is not None
        wait_for_scored_sessions(f"http://127.0.0.1:{port}", found.group(1))

        driver.get(link_of(lines, "example page:"))
        wait_until(
            dash_br,
            lambda: len(driver.find_elements(By.TAG_NAME, "iframe")) == PANELS,
            "the example page never framed its panels",
        )
        # From here on the panels have only their own embed cookies.
        driver.delete_cookie("ec_session")
        driver.switch_to.frame(driver.find_elements(By.TAG_NAME, "iframe")[0])
        driver.execute_script("window.ecBeforeReload = true; location.reload();")
        wait_until(
            dash_br,
            lambda: driver.execute_script("return window.ecBeforeReload === undefined;"),
            "the live panel never reloaded",
        )
        dash_br.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=30)
        assert "token=" not in driver.execute_script("return location.href;")
        wait_until(
            dash_br,
            lambda: (driver.execute_script(CHART_JS) or {}).get("x"),
            "the framed chart never drew a score",
        )
        assert driver.find_elements(By.CSS_SELECTOR, ".open-access-banner") == []
        assert driver.find_elements(By.CSS_SELECTOR, ".nav") == []

        driver.switch_to.default_content()
        driver.switch_to.frame(driver.find_elements(By.TAG_NAME, "iframe")[PANELS - 1])
        dash_br.wait_for_contains_text(f"#{ids.PAGE}", "sess-keynote-01", timeout=30)
        driver.switch_to.default_content()
        assert dash_br.get_logs() == []
        driver.get("about:blank")
        stop(proc, signal.SIGTERM)
