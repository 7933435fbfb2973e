"""The execution view in a real headless browser (Debian's Chromium, driven by Playwright)
against `sfn serve`'s application on a real redis-server with a real Celery worker.

Each test saves a screenshot under artifacts/ (gitignored). The README's picture,
docs/execution-page.png, is rewritten by the Parallel test when SFN_UPDATE_SCREENSHOT=1.
Needs `dot` (Graphviz) and `chromium`: scripts/ensure-system-deps.sh installs both;
SFN_SKIP_BROWSER=1 skips these tests.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from engine import arns
from engine.api import server
from engine.client import Client
from engine.connect import connect
from engine.settings import Settings
from engine.ui import make_app, render

pytestmark = [pytest.mark.redis, pytest.mark.worker]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("SFN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
L = "arn:aws:lambda:us-east-1:000000000000:function:"
ORDER = (ROOT / "workflows/order_processing.asl.json").read_text()
RETRYING = {
    "Comment": "Process an order, then e-mail the customer (the relay keeps refusing)",
    "StartAt": "ProcessOrder",
    "States": {
        "ProcessOrder": {"Type": "Task", "Resource": L + "ProcessOrderLambda", "Next": "SendEmail"},
        "SendEmail": {"Type": "Task", "Resource": L + "FlakySendEmailLambda", "Retry": [
            {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2,
             "BackoffRate": 1}], "End": True},
    },
}
FULFIL = {
    "Comment": "Check an order, then e-mail the customer and pack each item in parallel",
    "StartAt": "ProcessOrder",
    "States": {
        "ProcessOrder": {"Type": "Task", "Resource": L + "ProcessOrderLambda",
                         "ResultPath": "$.processed", "Next": "CheckOrder"},
        "CheckOrder": {"Type": "Choice", "Choices": [
            {"Variable": "$.items[0]", "IsPresent": True, "Next": "Fulfil"}],
            "Default": "Rejected"},
        "Fulfil": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "SendEmail", "States": {"SendEmail": {
                    "Type": "Task", "Resource": L + "FlakySendEmailLambda", "End": True,
                    "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1,
                               "MaxAttempts": 3, "BackoffRate": 1}]}}},
                # One iteration at a time: with two at once their Task events may be
                # attributed to each other's visits (engine/ui/status.py says why), and the
                # test reads one iteration's output.
                {"StartAt": "PackItems", "States": {"PackItems": {
                    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": True,
                    "ItemProcessor": {"StartAt": "PackItem", "States": {"PackItem": {
                        "Type": "Task", "Resource": L + "EchoLambda", "End": True}}}}}},
            ],
            "ResultPath": "$.fulfilment",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                       "Next": "NotifyFailure"}],
            "Next": "Done",
        },
        "NotifyFailure": {"Type": "Pass", "Next": "OrderFailed"},
        "OrderFailed": {"Type": "Fail", "Error": "OrderFailed"},
        "Rejected": {"Type": "Fail", "Error": "Rejected", "Cause": "The order has no items"},
        "Done": {"Type": "Succeed"},
    },
}
SLOW = {"StartAt": "Prepare", "States": {
    "Prepare": {"Type": "Pass", "Next": "Pause"},
    "Pause": {"Type": "Wait", "Seconds": 5, "Next": "Finish"},
    "Finish": {"Type": "Pass", "Result": {"finished": True}, "End": True},
}}


@pytest.fixture(scope="module")
def stack(worker: Any, redis_server: Any) -> Iterator[tuple[server.Running, Client]]:
    if not render.dot_available():
        pytest.fail("Graphviz `dot` is not installed: run scripts/ensure-system-deps.sh")
    client = connect(Settings(redis_url=redis_server.url))
    router = server.build_app(client, sync_timeout=30)  # mounts /ui/ and /metrics
    router.mount("/ui/", make_app(client, flower_url="http://localhost:5555"))  # + Flower links
    running = server.start_background(router)
    yield running, client
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if os.environ.get("SFN_SKIP_BROWSER"):
        pytest.skip("SFN_SKIP_BROWSER is set")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-system-deps.sh")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def start(client: Client, redis_url: str, machine: str, definition: Any, input: Any,
          name: str, *, email_failures: int = 0) -> str:
    client.create_state_machine(machine, definition if isinstance(definition, str)
                                else json.dumps(definition))
    arn = arns.execution_arn(client.region, client.account, machine, name)
    if email_failures:
        redis.Redis.from_url(redis_url).set(f"test:failures:{arn}", email_failures)
    return client.start_execution(machine, input, name=name).arn


def open_execution(page: Any, url: str, arn: str) -> None:
    page.goto(f"{url}/ui/executions/{arns.execution_id(arn)}")
    page.wait_for_selector("body[data-ready='1']")


def state(page: Any, name: str) -> Any:
    return page.locator(f".graph g.state[data-state='{name}']")


def assert_statuses(page: Any, expected: dict[str, str]) -> None:
    found = {name: state(page, name).get_attribute("data-status") for name in expected}
    assert found == expected


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def test_succeeded_execution(stack: Any, page: Any, redis_url: str, unique: str) -> None:
    running, client = stack
    arn = start(client, redis_url, f"Order{unique}", ORDER, {"orderId": "12345"}, "order-12345")
    assert client.wait(arn, 30).status == "SUCCEEDED"
    open_execution(page, running.url, arn)
    assert page.locator("svg").count() >= 1
    assert page.locator(".graph g.state").count() == 2
    assert_statuses(page, {"ProcessOrder": "succeeded", "SendEmail": "succeeded"})
    assert "SUCCEEDED" in page.inner_text("#exec-status")
    assert json.loads(page.inner_text("#exec-output")) == {
        "status": "Email Sent", "orderId": "12345"}
    state(page, "SendEmail").click()
    assert page.inner_text("#state-name").startswith("SendEmail")
    assert json.loads(page.inner_text("#state-output")) == {
        "status": "Email Sent", "orderId": "12345"}
    assert json.loads(page.inner_text("#state-input")) == {
        "status": "Order Processed", "orderId": "12345"}
    assert f"Order{unique}.SendEmail" in page.inner_text(".celery")  # Flower's task name
    # Each attempt names the Celery task that ran it (recorded with its TaskStarted event),
    # linked to that task's page in Flower.
    ids = client.store.task_ids(arns.execution_id(arn))
    started = [e["id"] for e in client.get_history(arn) if e["type"] == "LambdaFunctionStarted"]
    assert sorted(ids) == started and len(started) == 2
    cell = page.locator("table.attempts td.task-id")
    assert cell.get_attribute("data-task-id") == ids[started[-1]]
    assert cell.inner_text() == ids[started[-1]][:8]
    assert cell.locator("a").get_attribute("href") == (
        f"http://localhost:5555/task/{ids[started[-1]]}")
    # The event table, as in the console: each Task event under its state.
    rows = page.locator("#events tbody tr[data-event]")
    assert rows.count() == len(client.get_history(arn))
    assert "LambdaFunctionSucceeded" in page.inner_text("#events tbody tr[data-event='5']")
    assert page.inner_text("#events tbody tr[data-event='5'] td:nth-child(3)") == "ProcessOrder"
    shot(page, "ui-succeeded.png")
    # The state machine's own page draws the definition, uncoloured.
    page.click("dl.facts a")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator(".graph g.state[data-status='not_reached'], .graph g.state.st-not_reached"
                        ).count() == 2


def test_failed_after_retries(stack: Any, page: Any, redis_url: str, unique: str) -> None:
    running, client = stack
    machine = f"Retrying{unique}"
    arn = start(client, redis_url, machine, RETRYING, {"orderId": "777"}, "order-777",
                email_failures=10)
    done = client.wait(arn, 30)
    assert (done.status, done.error) == ("FAILED", "EmailServiceDown")
    # From the list, filtered by status, to the execution.
    page.goto(f"{running.url}/ui/?machine={machine}&status=FAILED")
    page.click("text=order-777")
    page.wait_for_selector("body[data-ready='1']")
    assert_statuses(page, {"ProcessOrder": "succeeded", "SendEmail": "failed"})
    assert "EmailServiceDown" in page.inner_text("#exec-error")
    badge = page.locator(".graph g.state[data-state='SendEmail'] text.retry-badge")
    assert badge.text_content() == "\u21bb2"
    state(page, "SendEmail").click()
    attempts = page.locator("table.attempts tbody tr")
    assert attempts.count() == 3
    assert all("Failed" in attempts.nth(i).inner_text() for i in range(3))
    assert "EmailServiceDown" in page.inner_text("#state-error")
    assert "2 retries" in page.inner_text("#details .meta")
    state(page, "ProcessOrder").click()
    assert json.loads(page.inner_text("#state-output")) == {
        "status": "Order Processed", "orderId": "777"}
    state(page, "SendEmail").click()
    shot(page, "ui-failed-after-retries.png")


def test_parallel_and_map(stack: Any, page: Any, redis_url: str) -> None:
    running, client = stack
    arn = start(client, redis_url, "OrderFulfilment", FULFIL,
                {"orderId": "12345", "items": ["book", "lamp", "mug"]}, "order-12345",
                email_failures=1)
    assert client.wait(arn, 30).status == "SUCCEEDED"
    open_execution(page, running.url, arn)
    assert page.locator(".graph g.cluster").count() == 4  # Parallel, 2 branches, the Map
    assert_statuses(page, {
        "ProcessOrder": "succeeded", "CheckOrder": "succeeded", "Fulfil": "succeeded",
        "SendEmail": "retried", "PackItems": "succeeded", "PackItem": "succeeded",
        "Done": "succeeded", "Rejected": "not_reached", "NotifyFailure": "not_reached",
        "OrderFailed": "not_reached",
    })
    # Open the Parallel: its branches and their statuses.
    state(page, "Fulfil").click()
    branches = page.locator("table.branches tbody tr")
    assert branches.count() == 2
    assert "Retried" in page.inner_text("table.branches tbody tr[data-branch='0']")  # SendEmail
    assert "Succeeded" in page.inner_text("table.branches tbody tr[data-branch='1']")
    branches.first.click()
    assert page.locator(".graph g.cluster.focus").count() == 1
    # Open the Map: one row per iteration; one iteration's states and output.
    state(page, "PackItems").click()
    assert page.locator("table.iterations tbody tr").count() == 3
    # The event table names the iteration of each of its events.
    rows = page.locator("#events tbody tr[data-iteration='2']")
    assert rows.count() >= 4  # MapIterationStarted, the Task's events, MapIterationSucceeded
    assert all("iteration 2" in rows.nth(i).inner_text() for i in range(rows.count()))
    page.click("table.iterations tbody tr[data-iteration='1']")
    assert "iteration 1 of PackItems" in page.inner_text("#focus-banner")
    state(page, "PackItem").click()
    assert json.loads(page.inner_text("#state-output")) == "lamp"
    page.click("#focus-clear")
    assert page.locator("#focus-banner").is_hidden()
    state(page, "SendEmail").click()
    assert page.locator("table.attempts tbody tr").count() == 2
    assert json.loads(page.inner_text("#state-output")) == {
        "status": "Email Sent", "orderId": "12345"}
    shot(page, "ui-parallel.png")
    page.set_viewport_size({"width": 1440, "height": 1320})
    picture = shot(page, "execution-page.png", full_page=False)
    if os.environ.get("SFN_UPDATE_SCREENSHOT"):
        shutil.copyfile(picture, ROOT / "docs" / "execution-page.png")


def test_a_running_execution_updates_without_reload(
    stack: Any, page: Any, redis_url: str, unique: str
) -> None:
    running, client = stack
    arn = start(client, redis_url, f"Slow{unique}", SLOW, {"n": 1}, "slow-1")
    open_execution(page, running.url, arn)
    page.wait_for_selector(".graph g.state[data-state='Pause'][data-status='running']",
                           timeout=10_000)
    assert page.locator("#live").is_visible()
    assert state(page, "Finish").get_attribute("data-status") == "not_reached"
    shot(page, "ui-running.png")
    page.wait_for_selector(".graph g.state[data-state='Finish'][data-status='succeeded']",
                           timeout=20_000)
    assert "SUCCEEDED" in page.inner_text("#exec-status")
    assert page.locator("#live").is_hidden()
    assert json.loads(page.inner_text("#exec-output")) == {"finished": True}


def test_metrics_endpoint_on_the_server(stack: Any, redis_url: str, unique: str) -> None:
    running, client = stack
    machine = f"Counted{unique}"
    arn = start(client, redis_url, machine, ORDER, {"orderId": "1"}, "one")
    client.wait(arn, 30)
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(f"{running.url}/metrics", timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            text = response.read().decode()
        line = f'sfn_executions_finished_total{{state_machine="{machine}",status="SUCCEEDED"}} 1.0'
        if line in text or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert line in text
    assert f'sfn_executions_started_total{{state_machine="{machine}"}} 1.0' in text
    for family in ("sfn_executions_running", "sfn_state_transitions_total",
                   "sfn_state_duration_seconds", "sfn_state_retries_total",
                   "sfn_timer_lag_seconds", "sfn_checkpoint_duration_seconds"):
        assert f"# TYPE {family}" in text


def _tall_jsonata_machine(count: int) -> dict[str, Any]:
    """A JSONata state machine drawn taller than the window: a chain of `count` states and a
    Choice with a long condition on its edge."""
    states: dict[str, Any] = {}
    for i in range(count):
        output = f"{{% $merge([$states.input, {{'step': {i}}}]) %}}"
        states[f"Step{i}"] = {"Type": "Pass", "Output": output,
                              "Next": f"Step{i + 1}" if i + 1 < count else "Check"}
    condition = (f"{{% $states.input.step = {count - 1} and $exists($states.input.orderId)"
                 " and $length($states.input.orderId) > 0 %}")
    states["Check"] = {"Type": "Choice", "Choices": [{"Condition": condition, "Next": "Done"}],
                       "Default": "Step0"}
    states["Done"] = {"Type": "Succeed"}
    return {"QueryLanguage": "JSONata", "StartAt": "Step0", "States": states}


def test_a_large_machine_fits_the_pane_and_zooms(
    stack: Any, page: Any, unique: str
) -> None:
    running, client = stack
    name = f"Tall{unique}"
    client.create_state_machine(name, json.dumps(_tall_jsonata_machine(16)))
    page.goto(f"{running.url}/ui/state-machines/{name}")
    page.wait_for_selector("body[data-ready='1']")
    svg = page.locator(".graph svg")
    natural = page.evaluate("() => document.querySelector('.graph svg').getBBox().height")
    pane = page.locator("#graph").bounding_box()
    box = svg.bounding_box()
    assert natural * 4 / 3 > 1000  # drawn at its natural size it would overflow the window
    # Fit: the whole drawing is inside the pane, and the pane inside the window.
    assert box["height"] <= 0.75 * 1100 + 1 and box["width"] <= pane["width"] + 1
    assert float(svg.get_attribute("data-zoom")) < 1
    for name_ in ("Step0", "Step15", "Check", "Done"):
        r = page.locator(f".graph g.state[data-state='{name_}']").bounding_box()
        assert r["y"] >= box["y"] - 1 and r["y"] + r["height"] <= box["y"] + box["height"] + 1
        assert r["x"] >= box["x"] - 1 and r["x"] + r["width"] <= box["x"] + box["width"] + 1
    fitted = (svg.get_attribute("viewBox"), float(svg.get_attribute("data-zoom")))
    # + zooms in by a quarter, around the centre.
    page.click("#zoom-in")
    assert float(svg.get_attribute("data-zoom")) == pytest.approx(fitted[1] * 1.25, rel=0.01)
    # The wheel zooms in around the pointer (and does not scroll the page).
    scroll = page.evaluate("() => window.scrollY")
    before = float(svg.get_attribute("data-zoom"))
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 40)
    page.mouse.wheel(0, -300)
    page.wait_for_function(
        f"() => parseFloat(document.querySelector('.graph svg').dataset.zoom) > {before}")
    assert page.evaluate("() => window.scrollY") == scroll
    # Dragging pans the view.
    x0 = float(svg.get_attribute("viewBox").split()[0])
    page.mouse.move(box["x"] + 200, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 150, steps=4)
    page.mouse.up()
    assert float(svg.get_attribute("viewBox").split()[0]) > x0
    # Fit shows it all again; 1:1 is the natural size.
    page.click("#zoom-fit")
    assert (svg.get_attribute("viewBox"), float(svg.get_attribute("data-zoom"))) == fitted
    shot(page, "ui-zoom-fit.png")
    page.click("#zoom-actual")
    assert float(svg.get_attribute("data-zoom")) == 1


LOOP = {
    "Comment": "E-mail the customer three times; the relay refuses the first attempt",
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Parameters": {"n": 0, "orderId": "9"}, "Next": "SendEmail"},
        "SendEmail": {"Type": "Task", "Resource": L + "FlakySendEmailLambda", "ResultPath": None,
                      "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1,
                                 "BackoffRate": 1}], "Next": "Count"},
        "Count": {"Type": "Pass", "Parameters": {
            "n.$": "States.MathAdd($.n, 1)", "orderId.$": "$.orderId"}, "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericLessThan": 3, "Next": "SendEmail"}], "Default": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def test_a_task_in_a_loop_opens_on_its_retried_visit(
    stack: Any, page: Any, redis_url: str, unique: str
) -> None:
    running, client = stack
    arn = start(client, redis_url, f"Loop{unique}", LOOP, {}, "loop-1", email_failures=1)
    assert client.wait(arn, 30).status == "SUCCEEDED"
    open_execution(page, running.url, arn)
    assert_statuses(page, {"SendEmail": "retried", "Count": "succeeded"})
    state(page, "SendEmail").click()
    # Three visits; the panel opens on the first, the retried one, not on the last.
    assert page.locator("#visit-select option").count() == 3
    assert page.locator("#visit-select").input_value() == "0"
    assert page.locator("table.attempts tbody tr").count() == 2
    # Another state with nothing telling opens on its last visit.
    state(page, "Count").click()
    assert page.locator("#visit-select").input_value() == "2"
