"""The state machine drawn as SVG: the graph of engine/asl/graph.py, laid out by Graphviz.

    svg = render_svg(definition_text)      # None when Graphviz (`dot`) is not installed

The layout is Graphviz's `dot` (layered, with clusters for the nested boxes of Parallel
branches and Map item processors), run server-side; the page only colours the result. The
DOT written here differs from `graph.to_dot` in what a status view needs: neutral fills
(the status is the colour), the state's type under its name, and stable SVG ids and
classes (`id="sm-n3"`, `class="state type-Task"`, `id="sm-g0"` for a box) that the page's
script finds the states by. A definition's text is content-addressed and never changes, so
its drawing is cached by the text's hash.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import threading
from collections import OrderedDict
from typing import Any, Final

from engine.asl import graph
from engine.ui import coverage

#: Beyond this many nodes the drawing is skipped (dot's time grows quickly).
MAX_NODES: Final = 1500
DOT_TIMEOUT: Final = 30.0

_FONT: Final = "Helvetica,Arial,sans-serif"


def dot_available() -> bool:
    return shutil.which("dot") is not None


def build(definition_text: str) -> graph.Graph:
    parsed = json.loads(definition_text)
    return graph.build(parsed if isinstance(parsed, dict) else {})


def _html(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _node(node: graph.Node, mark: coverage.Mark | None = None) -> str:
    common = f'id="sm-{node.id}"'
    if node.kind == "start":
        return (f'{node.id} [{common}, class="terminal start", label="", shape=circle, '
                'width=0.22, style=filled, fillcolor="#374151", color="#374151"];')
    if node.kind == "end":
        return (f'{node.id} [{common}, class="terminal end", label="", shape=doublecircle, '
                'width=0.16, style=filled, fillcolor="#374151", color="#374151"];')
    if node.kind == "join":
        return (f'{node.id} [{common}, class="join", label="", shape=point, width=0.08, '
                'color="#9ca3af"];')
    if node.kind == "missing":
        return (f'{node.id} [{common}, class="missing", label={_quoted(node.label)}, shape=box, '
                'style="rounded,dashed", color="#b91c1c", fontcolor="#b91c1c"];')
    type_ = node.type or "?"
    note, classes, paint = "", "", ""
    if mark is not None:  # test coverage (engine/ui/coverage.py)
        colour = coverage.COVERED_LINE if mark.covered else coverage.MISSED_LINE
        note = f'<br/><font point-size="8" color="{colour}">{_html(mark.note)}</font>'
        classes = " cov-hit" if mark.covered else " cov-miss"
        fill = coverage.COVERED_FILL if mark.covered else coverage.MISSED_FILL
        paint = f', fillcolor="{fill}", color="{colour}"'
    label = (f'<<font point-size="12">{_html(node.label)}</font><br/>'
             f'<font point-size="8" color="#6b7280">{_html(type_)}</font>{note}>')
    return (f'{node.id} [{common}, class="state type-{re.sub(r"[^A-Za-z]", "", type_)}'
            f'{classes}", label={label}{paint}];')


def to_dot(g: graph.Graph, overlay: coverage.Overlay | None = None) -> str:
    """DOT text for the execution view (see the module docstring); `overlay` draws test
    coverage on it."""
    lines = [
        "digraph StateMachine {",
        f'  graph [rankdir=TB, bgcolor="transparent", fontname="{_FONT}", fontsize=10, '
        'nodesep=0.3, ranksep=0.38, pad=0.15];',
        f'  node [fontname="{_FONT}", shape=box, style="rounded,filled", fillcolor="#ffffff", '
        'color="#9ca3af", penwidth=1.4, margin="0.2,0.06", height=0.46];',
        f'  edge [fontname="{_FONT}", fontsize=9, color="#6b7280", fontcolor="#4b5563", '
        'arrowsize=0.7];',
    ]

    def emit(group: str | None, indent: str) -> None:
        for node in g.nodes:
            if node.group == group:
                lines.append(indent + _node(node, overlay.nodes.get(node.id) if overlay else None))
        for grp in g.groups:
            if grp.parent == group:
                lines.append(f"{indent}subgraph cluster_{grp.id} {{")
                lines.append(
                    f'{indent}  id="sm-{grp.id}"; class="group group-{grp.kind}"; '
                    f'label={_quoted(grp.label)}; style="rounded,dashed"; color="#9ca3af"; '
                    'fontcolor="#4b5563"; margin=10;'
                )
                emit(grp.id, indent + "  ")
                lines.append(f"{indent}}}")

    emit(None, "  ")
    for index, e in enumerate(g.edges):
        mark = overlay.edges.get(index) if overlay else None
        attrs = [f'class="edge-{e.kind}{_edge_class(mark)}"']
        label = e.label if mark is None else f"{e.label or ''} ({mark.note})".strip()
        if label:
            attrs.append(f"label={_quoted(label)}")
        if mark is not None:
            colour = coverage.COVERED_LINE if mark.covered else coverage.MISSED_LINE
            style = "solid, penwidth=2" if mark.covered else "dashed"
            attrs.append(f'style={style}, color="{colour}", fontcolor="{colour}"')
        elif e.kind == "catch":
            attrs.append('style=dashed, color="#d97706", fontcolor="#b45309"')
        elif e.kind == "default":
            attrs.append("style=dashed")
        lines.append(f"  {e.source} -> {e.target} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edge_class(mark: coverage.Mark | None) -> str:
    if mark is None:
        return ""
    return " cov-hit" if mark.covered else " cov-miss"


class RenderError(RuntimeError):
    pass


def dot_to_svg(dot: str) -> str:
    """Run Graphviz; returns the `<svg>` element (no XML prolog), ready to inline."""
    exe = shutil.which("dot")
    if exe is None:
        raise RenderError("Graphviz is not installed (no `dot` on PATH)")
    try:
        done = subprocess.run(
            [exe, "-Tsvg"], input=dot.encode(), capture_output=True, timeout=DOT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(f"Graphviz took more than {DOT_TIMEOUT:.0f}s") from None
    if done.returncode != 0:
        raise RenderError(f"Graphviz failed: {done.stderr.decode(errors='replace')[:500]}")
    svg = done.stdout.decode()
    start = svg.find("<svg")
    if start < 0:
        raise RenderError("Graphviz wrote no <svg>")
    return svg[start:]


_CACHE_SIZE: Final = 64
_cache: OrderedDict[str, str | None] = OrderedDict()
_cache_lock = threading.Lock()


def render_svg(definition_text: str) -> str | None:
    """The drawing of a definition, or None when it cannot be drawn here (no Graphviz, a
    graph too big); the page then lists the states instead. Cached by the text's hash."""
    if not dot_available():
        return None
    key = hashlib.sha256(definition_text.encode()).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    g = build(definition_text)
    svg = None if len(g.nodes) > MAX_NODES else dot_to_svg(to_dot(g))
    with _cache_lock:
        _cache[key] = svg
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return svg


def render_coverage_svg(definition_text: str, cov: dict[str, Any]) -> str | None:
    """The drawing with a state machine's test coverage on it (engine/ui/coverage.py);
    None without Graphviz or for a graph too big. Not cached: the file changes."""
    if not dot_available():
        return None
    g = build(definition_text)
    if len(g.nodes) > MAX_NODES:
        return None
    return dot_to_svg(to_dot(g, coverage.overlay(g, cov)))


def graph_data(definition_text: str) -> dict[str, Any]:
    """The graph's nodes and groups as JSON for the page's script."""
    g = build(definition_text)
    return {
        "nodes": [
            {"id": n.id, "kind": n.kind, "name": n.name, "type": n.type, "group": n.group}
            for n in g.nodes
        ],
        "groups": [
            {"id": grp.id, "kind": grp.kind, "label": grp.label, "parent": grp.parent,
             "owner": grp.owner}
            for grp in g.groups
        ],
    }
