"""HTML of the pages (server-rendered, escaped here; the execution page's live parts are
drawn by static/ui.js from the JSON embedded in the page)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from engine.store.base import ExecutionRecord
from engine.ui import coverage as cov
from engine.ui import data
from engine.ui import status as st

STATUS_LABELS = {
    st.NOT_REACHED: "Not reached",
    st.RUNNING: "Running",
    st.SUCCEEDED: "Succeeded",
    st.RETRIED: "Retried",
    st.CAUGHT: "Caught error",
    st.FAILED: "Failed",
    st.ABORTED: "Aborted",
}


@dataclass(frozen=True)
class Links:
    """Where the header's links to the neighbours go (None: no link)."""

    flower: str | None = None
    metrics: str | None = "/metrics"


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def execution_href(base: str, eid: str) -> str:
    return f"{base}/executions/{quote(eid, safe=':')}"


def machine_href(base: str, name: str) -> str:
    return f"{base}/state-machines/{quote(name, safe='')}"


def json_script(value: Any, element_id: str) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # Nothing in the text may close the script element or open a comment.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def layout(base: str, title: str, body: str, *, active: str = "", links: Links = Links(),
           scripts: Sequence[str] = ()) -> str:
    def nav(href: str, label: str, key: str) -> str:
        cls = ' class="active"' if key == active else ""
        return f'<a href="{e(href)}"{cls}>{e(label)}</a>'

    items = [nav(f"{base}/", "Executions", "executions"),
             nav(f"{base}/state-machines", "State machines", "machines")]
    if links.metrics:
        items.append(f'<a href="{e(links.metrics)}">Metrics</a>')
    if links.flower:
        items.append(f'<a href="{e(links.flower)}" target="_blank" rel="noopener">Flower</a>')
    script_tags = "".join(f'<script src="{e(base)}/static/{e(s)}" defer></script>' for s in scripts)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · sfn</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{e(base)}/static/ui.css">
{script_tags}
</head>
<body>
<header class="bar"><a class="brand" href="{e(base)}/">sfn <span>Step Functions on Celery</span></a>
<nav>{''.join(items)}</nav></header>
<main>
{body}
</main>
</body>
</html>
"""


def badge(status: str) -> str:
    return f'<span class="badge x-{e(status)}">{e(status.replace("_", " "))}</span>'


def executions_page(
    base: str,
    records: list[ExecutionRecord],
    machines: list[str],
    *,
    machine: str | None,
    status: str | None,
    next_cursor: str | None,
    is_first: bool,
    links: Links,
    error: str | None = None,
) -> str:
    def option(value: str, label: str, selected: bool) -> str:
        sel = " selected" if selected else ""
        return f'<option value="{e(value)}"{sel}>{e(label)}</option>'

    machine_options = option("", "All state machines", machine is None) + "".join(
        option(m, m, m == machine) for m in machines
    )
    status_options = option("", "Any status", status is None) + "".join(
        option(s, s.replace("_", " ").title(), s == status) for s in data.STATUSES
    )
    rows = []
    for r in records:
        rows.append(
            "<tr>"
            f'<td><a href="{e(execution_href(base, r.eid))}">{e(r.name)}</a></td>'
            f'<td><a href="{e(machine_href(base, r.state_machine_name))}">'
            f"{e(r.state_machine_name)}</a></td>"
            f"<td>{badge(r.status)}</td>"
            f"<td>{e(data.iso(r.start))}</td>"
            f"<td>{e(data.iso(r.stop) or '')}</td>"
            f'<td class="num">{e(data.human_duration(data.duration(r)))}</td>'
            "</tr>"
        )
    table = (
        '<table class="list" id="executions"><thead><tr><th>Name</th><th>State machine</th>'
        "<th>Status</th><th>Started</th><th>Ended</th><th>Duration</th></tr></thead><tbody>"
        + ("".join(rows) or '<tr><td colspan="6" class="empty">No executions.</td></tr>')
        + "</tbody></table>"
    )
    params = {k: v for k, v in (("machine", machine), ("status", status)) if v}
    pager = []
    if not is_first:
        pager.append(f'<a href="{e(base)}/?{e(urlencode(params))}">« Newest</a>')
    if next_cursor:
        pager.append(
            f'<a id="next-page" href="{e(base)}/?{e(urlencode({**params, "after": next_cursor}))}">'
            "Older »</a>"
        )
    problem = f'<p class="problem">{e(error)}</p>' if error else ""
    body = f"""
<h1>Executions</h1>
<form class="filters" method="get" action="{e(base)}/">
<label>State machine <select name="machine">{machine_options}</select></label>
<label>Status <select name="status">{status_options}</select></label>
<button type="submit">Filter</button>
</form>
{problem}
{table}
<nav class="pager">{' '.join(pager)}</nav>
<p class="hint">Newest started first. Click an execution to see its graph and events.</p>
"""
    return layout(base, "Executions", body, active="executions", links=links)


def machines_page(base: str, machines: list[dict[str, Any]], links: Links) -> str:
    rows = "".join(
        "<tr>"
        f'<td><a href="{e(machine_href(base, m["name"]))}">{e(m["name"])}</a></td>'
        f'<td>{e(m["type"])}</td><td class="num">{e(m["revision"])}</td>'
        f'<td>{e(m["created"])}</td><td>{e(m["updated"])}</td>'
        f'<td class="num"><a href="{e(base)}/?{e(urlencode({"machine": m["name"]}))}">'
        f'{e(m["executions"])}</a></td>'
        "</tr>"
        for m in machines
    )
    body = f"""
<h1>State machines</h1>
<table class="list" id="machines"><thead><tr><th>Name</th><th>Type</th><th>Revision</th>
<th>Created</th><th>Updated</th><th>Executions</th></tr></thead><tbody>
{rows or '<tr><td colspan="6" class="empty">No state machines.</td></tr>'}
</tbody></table>
"""
    return layout(base, "State machines", body, active="machines", links=links)


def graph_block(svg: str | None, problem: str | None) -> str:
    if svg is not None:
        return f'<div id="graph" class="graph">{svg}</div>'
    why = problem or "Graphviz (`dot`) is not installed here: run scripts/ensure-system-deps.sh."
    return (f'<div id="graph" class="graph nograph"><p class="problem">{e(why)}</p>'
            '<ul id="state-list"></ul></div>')


def legend() -> str:
    items = "".join(
        f'<span class="key"><i class="swatch s-{e(k)}"></i>{e(v)}</span>'
        for k, v in STATUS_LABELS.items()
    )
    return f'<div class="legend">{items}</div>'


def coverage_block(
    base: str, machine: str, entry: str, found: dict[str, Any] | None, entries: list[str],
    problem: str | None,
) -> str:
    """The test coverage drawn on the graph: its summary, what was never exercised, and the
    coverage file's other entries (engine/ui/coverage.py)."""
    def link(name: str) -> str:
        href = f"{machine_href(base, machine)}?{urlencode({'coverage': name})}"
        return f'<a href="{e(href)}">{e(name)}</a>'

    if problem is not None:
        return (f'<section class="coverage"><h2>Test coverage</h2>'
                f'<p class="problem">{e(problem)}</p></section>')
    others = ", ".join(link(n) for n in entries if n != entry) or "none"
    if found is None:
        return (f'<section class="coverage"><h2>Test coverage</h2><p class="hint">The coverage '
                f'file has no entry named {e(entry)}. Entries: {others}.</p></section>')
    rows = "".join(
        f"<tr><td>{e(kind)}s</td><td>{covered}/{total}</td></tr>"
        for kind, covered, total in cov.summary(found))
    gaps = cov.missed(found)
    listed = ("<ul class=\"missed\">" + "".join(f"<li>{e(m)}</li>" for m in gaps) + "</ul>"
              if gaps else "<p>Everything was exercised.</p>")
    return f"""<section class="coverage" id="coverage">
<h2>Test coverage: {e(entry)} ({e(found.get("executions", 0))} executions)</h2>
<p class="hint">Green: exercised (with its hits); red: never exercised by the tests. Choice
rules, Default and Catch edges are measured; other edges stay grey. Other entries: {others}.</p>
<table class="summary"><tr><th>Kind</th><th>Covered</th></tr>{rows}</table>
<h3>Not covered</h3>{listed}
</section>"""


def machine_page(
    base: str, summary: dict[str, Any], definition: str, svg: str | None, problem: str | None,
    graph: dict[str, Any], links: Links, *, coverage: str = "",
) -> str:
    try:
        pretty = json.dumps(json.loads(definition), indent=2, ensure_ascii=False)
    except ValueError:
        pretty = definition
    payload = {"mode": "machine", "base": base, "graph": graph}
    body = f"""
<div class="crumbs"><a href="{e(base)}/state-machines">State machines</a> ›
{e(summary["name"])}</div>
<h1>{e(summary["name"])}</h1>
<dl class="facts">
<dt>ARN</dt><dd><code>{e(summary["arn"])}</code></dd>
<dt>Type</dt><dd>{e(summary["type"])}</dd><dt>Revision</dt><dd>{e(summary["revision"])}</dd>
<dt>Executions</dt><dd><a href="{e(base)}/?{e(urlencode({"machine": summary["name"]}))}">
{e(summary["executions"])}</a></dd>
</dl>
<section class="split">
<div class="graph-pane">{graph_block(svg, problem)}</div>
<aside class="details"><h2>Definition</h2><pre class="json">{e(pretty)}</pre></aside>
</section>
{coverage}
{json_script(payload, "sfn-data")}
"""
    return layout(base, summary["name"], body, active="machines", links=links,
                  scripts=("zoom.js", "ui.js"))


def execution_page(
    base: str, payload: dict[str, Any], svg: str | None, problem: str | None,
    graph: dict[str, Any], links: Links, *, redrive: bool = False,
) -> str:
    x = payload["execution"]
    redrive_url = f"{base}/api/executions/{quote(x['eid'], safe=':')}/redrive"
    client_data = {
        "mode": "execution",
        "base": base,
        "graph": graph,
        "flowerUrl": links.flower,
        "statusLabels": STATUS_LABELS,
        "statusOrder": list(st.PRECEDENCE),
        "payload": payload,
        "pollUrl": f"{base}/api/executions/{quote(x['eid'], safe=':')}",
        # The Redrive button (engine/ui/app.py): shown by ui.js while the execution can be
        # redriven (FAILED, TIMED_OUT, ABORTED).
        "redriveUrl": redrive_url if redrive else None,
    }
    body = f"""
<div class="crumbs"><a href="{e(base)}/">Executions</a> ›
<a href="{e(base)}/?{e(urlencode({"machine": x["stateMachine"]}))}">{e(x["stateMachine"])}</a> ›
{e(x["name"])}</div>
<h1><span id="exec-name">{e(x["name"])}</span>
<span id="exec-status">{badge(x["status"])}</span>
<button type="button" id="redrive" hidden>Redrive</button></h1>
<dl class="facts">
<dt>Execution ARN</dt><dd><code id="exec-arn">{e(x["arn"])}</code></dd>
<dt>State machine</dt>
<dd><a href="{e(machine_href(base, x["stateMachine"]))}">{e(x["stateMachine"])}</a></dd>
<dt>Started</dt><dd id="exec-start">{e(x["startText"])}</dd>
<dt>Ended</dt><dd id="exec-stop">{e(x["stopText"] or "—")}</dd>
<dt>Duration</dt><dd id="exec-duration">{e(x["durationText"])}</dd>
</dl>
{waiting_block(base, payload.get("waiting") or [])}
<section class="split">
<div class="graph-pane">
{legend()}
<div id="focus-banner" class="banner" hidden></div>
{graph_block(svg, problem)}
</div>
<aside class="details" id="details">
<nav class="tabs"><button type="button" data-tab="execution" class="on">Execution</button>
<button type="button" data-tab="state" disabled>State</button></nav>
<div id="details-body"><p class="hint">Loading…</p></div>
</aside>
</section>
<section class="events">
<h2>Events <span id="event-count" class="count"></span>
<span id="live" class="live" hidden>live</span></h2>
<table class="list" id="events"><thead><tr><th>ID</th><th>Type</th><th>Step</th><th>Resource</th>
<th>Started after</th><th>Date and time</th></tr></thead><tbody></tbody></table>
</section>
{json_script(client_data, "sfn-data")}
"""
    return layout(base, f"{x['name']} ({x['status']})", body, active="executions",
                  links=links, scripts=("zoom.js", "ui.js"))


def waiting_block(base: str, waiting: list[dict[str, Any]]) -> str:
    """The states waiting on the outside world (engine/ui/waiting.py): since when, the last
    heartbeat, and a link to a child execution."""
    if not waiting:
        return ""
    from engine import arns
    from engine.ui.data import human_duration, iso

    rows = []
    for w in waiting:
        child = ""
        if w.get("child"):
            href = execution_href(base, arns.execution_id(w["child"]))
            child = f'<a href="{e(href)}">{e(w["child"])}</a>'
        beat = iso(w["heartbeat"]) if w.get("heartbeat") is not None else "—"
        rows.append(
            f'<tr><td>{e(w["state"])}</td><td>{e(w["kind"])}</td>'
            f'<td>{e(iso(w["since"]))} ({e(human_duration(w["waited"]))})</td>'
            f"<td>{e(beat)}</td><td>{child or '—'}</td></tr>"
        )
    return (
        '<section class="waiting"><h2>Waiting</h2><table class="list" id="waiting">'
        "<thead><tr><th>State</th><th>For</th><th>Since</th><th>Last heartbeat</th>"
        "<th>Child execution</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        "</section>"
    )


def not_found(base: str, message: str, links: Links) -> str:
    body = (f'<h1>Not found</h1><p class="problem">{e(message)}</p>'
            f'<p><a href="{e(base)}/">All executions</a></p>')
    return layout(base, "Not found", body, links=links)
