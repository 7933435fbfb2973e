"""The Redrive button in a real headless browser (Chromium, Playwright) against `sfn serve`'s
application with the button enabled, a real redis-server and a real Celery worker: a failed
execution redriven from its page runs again and the page follows it to SUCCEEDED."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.api import server
from engine.client import Client
from engine.connect import connect
from engine.settings import Settings
from engine.ui import make_app, render
from tests.test_ui_browser import L, browser, open_execution, page, start  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.worker]

EMAIL = {
    "StartAt": "ProcessOrder",
    "States": {
        "ProcessOrder": {"Type": "Task", "Resource": L + "ProcessOrderLambda", "Next": "SendEmail"},
        "SendEmail": {"Type": "Task", "Resource": L + "FlakySendEmailLambda", "End": True},
    },
}


@pytest.fixture(scope="module")
def redrive_stack(worker: Any, redis_server: Any) -> Iterator[tuple[server.Running, Client]]:
    if not render.dot_available():
        pytest.fail("Graphviz `dot` is not installed: run scripts/ensure-system-deps.sh")
    client = connect(Settings(redis_url=redis_server.url))
    router = server.build_app(client, sync_timeout=30)
    router.mount("/ui/", make_app(client, allow_redrive=True))
    running = server.start_background(router)
    yield running, client
    running.stop()


def test_redrive_from_the_execution_page(
    redrive_stack: Any, page: Any, redis_url: str, unique: str  # noqa: F811
) -> None:
    running, client = redrive_stack
    arn = start(client, redis_url, f"Email{unique}", EMAIL, {"orderId": "r-9"}, "order-r-9",
                email_failures=1)
    assert client.wait(arn, 30).status == "FAILED"
    open_execution(page, running.url, arn)
    assert "FAILED" in page.inner_text("#exec-status")
    page.click("#redrive")
    page.wait_for_function(
        "document.getElementById('exec-status').innerText.indexOf('SUCCEEDED') >= 0",
        timeout=30_000,
    )
    assert page.locator("#redrive").is_hidden()
    done = client.describe_execution(arn)
    assert (done.status, done.redrive_count) == ("SUCCEEDED", 1)
