"""The web view in a real browser (Chromium) behind `sfn serve`'s guard: its own script and
styles work under the Content-Security-Policy (no violation reported), Basic credentials
open it when a SigV4 key is configured, and it refuses to be framed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from engine import arns
from engine.api import auth, server
from engine.connect import connect
from engine.settings import Settings
from tests.test_ui_browser import CHROMIUM, CHROMIUM_ARGS, ORDER

pytestmark = [pytest.mark.redis, pytest.mark.worker]

KEY = auth.SharedKey("AKIDCSP", "csp-s3cret")


@pytest.fixture(scope="module")
def guarded(worker: Any, redis_server: Any) -> Iterator[tuple[server.Running, Any]]:
    client = connect(Settings(redis_url=redis_server.url))
    running = server.start_background(server.build_app(client, shared_key=KEY))
    yield running, client
    running.stop()


def test_the_view_works_under_its_csp_with_credentials(guarded: Any, unique: str) -> None:
    import os
    from pathlib import Path

    if os.environ.get("SFN_SKIP_BROWSER"):
        pytest.skip("SFN_SKIP_BROWSER is set")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-system-deps.sh")
    sync_api = pytest.importorskip("playwright.sync_api")
    running, client = guarded
    client.create_state_machine(f"Csp{unique}", ORDER)
    arn = client.start_execution(f"Csp{unique}", {"orderId": "1"}, name="csp-1").arn
    assert client.wait(arn, 30).status == "SUCCEEDED"
    url = running.url.replace("127.0.0.1", "localhost")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            anonymous = browser.new_context()
            assert anonymous.request.get(f"{url}/ui/").status == 401
            anonymous.close()
            context = browser.new_context(http_credentials={
                "username": KEY.access_key_id, "password": KEY.secret_access_key})
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text)
                    if "Content Security Policy" in m.text or m.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.goto(f"{url}/ui/executions/{arns.execution_id(arn)}")
            page.wait_for_selector("body[data-ready='1']")  # set by ui.js: the script ran
            assert page.locator(".graph g.state").count() == 2
            page.locator(".graph g.state[data-state='SendEmail']").click()
            assert json.loads(page.inner_text("#state-output"))["orderId"] == "1"
            # ui.css applied (a stylesheet from 'self'): the page is not unstyled.
            assert page.evaluate("document.styleSheets.length") >= 1
            assert page.evaluate(
                "getComputedStyle(document.body).fontFamily") != "\"Times New Roman\""
            page.click("dl.facts a")  # the state machine's page, drawn by ui.js too
            page.wait_for_selector("body[data-ready='1']")
            page.goto(f"{url}/ui/")
            assert page.locator("table").count() >= 1
            assert not problems, problems
            context.close()
        finally:
            browser.close()
