"""The execution view shows the states that wait on the outside world: a callback with how
long it has waited and its last heartbeat, a Task waiting for a child execution with a link
to it (over the in-memory store, no browser)."""

from __future__ import annotations

from engine.ui import app as ui_app
from tests.test_callbacks import World, approval, start
from tests.test_nested import parent
from tests.test_ui_app import call, embedded


def test_a_waiting_callback_shows_since_when_and_its_heartbeat() -> None:
    w = World()
    rec = start(w, approval(HeartbeatSeconds=600))
    w.client.send_task_heartbeat(w.tokens[0])
    app = ui_app.UiApp(w.client)
    _, _, body = call(app, f"/executions/{rec.eid}")
    [waiting] = embedded(body)["payload"]["waiting"]
    assert waiting["state"] == "Approve"
    assert waiting["kind"] == "callback: waiting for its task token"
    assert waiting["heartbeat"] == w.now
    html = body.decode()
    assert '<table class="list" id="waiting">' in html and "Approve" in html
    w.client.send_task_success(w.tokens[0], output_text="{}")
    w.pump()
    _, _, body = call(app, f"/executions/{rec.eid}")
    assert embedded(body)["payload"]["waiting"] == []
    assert 'id="waiting"' not in body.decode()


def test_a_task_waiting_for_a_child_links_to_it() -> None:
    w = World()
    kid = w.client.create_state_machine(
        "Kid", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": True}}}
    )
    w.client.create_state_machine("Mom", parent(kid.arn))
    mom = w.client.start_execution("Mom", {"n": 1}, name="m")
    w.pump()
    [child] = w.client.list_executions("Kid")
    _, _, body = call(ui_app.UiApp(w.client), f"/executions/{mom.eid}")
    [waiting] = embedded(body)["payload"]["waiting"]
    assert (waiting["kind"], waiting["child"]) == ("child execution", child.arn)
    assert f'href="/ui/executions/{child.eid}"' in body.decode()
