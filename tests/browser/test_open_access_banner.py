"""The open-access banner in a real browser: every page says the server is open, but an embedded
panel, whose frame is the platform's few hundred pixels, gives none of them to it."""

from __future__ import annotations

from typing import Any

import pytest

from app.runtime import Runtime
from components import ids
from tests.browser.support import recent, wait_until

pytestmark = pytest.mark.browser

BANNER = ".open-access-banner"
PAGE_TOP_JS = f"return document.getElementById({ids.PAGE!r}).getBoundingClientRect().top;"


def banner_shown(dash_duo: Any) -> bool:
    return any(banner.is_displayed() for banner in dash_duo.find_elements(BANNER))


def test_pages_show_the_open_access_banner_and_embedded_panels_do_not(
    served: Any, runtime: Runtime
) -> None:
    dash_duo = served
    recent(runtime, "s-1", 0.5)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/live/s-1")
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=15)
    assert banner_shown(dash_duo)

    dash_duo.driver.set_window_size(640, 320)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/embed/live/s-1")
    dash_duo.wait_for_text_to_equal(f"#{ids.LIGHT_TEXT}", "live", timeout=15)
    wait_until(dash_duo, lambda: not banner_shown(dash_duo), "the banner stayed in the panel")
    # The panel starts at the top of its frame.
    assert dash_duo.driver.execute_script(PAGE_TOP_JS) == 0
    assert dash_duo.get_logs() == []
