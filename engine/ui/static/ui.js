/* The sfn web view's script (vanilla, served from the package; no CDN; zoom.js, loaded
 * before it, zooms and fits the drawing).
 *
 * The page embeds its data as JSON (#sfn-data): the graph's nodes and groups (engine/asl/
 * graph.py), and on an execution page the payload of /api/executions/<eid> (the record, the
 * state statuses derived from the history by engine/ui/status.py, and the events). This
 * script colours the SVG that Graphviz drew (class st-<status> on each state's <g>),
 * shows a clicked state's input, output and retries, lets a Parallel's branches and a Map's
 * iterations be opened, draws the event table, and polls while the execution runs.
 */
(function () {
  "use strict";

  var dataEl = document.getElementById("sfn-data");
  if (!dataEl) return;
  var cfg = JSON.parse(dataEl.textContent);
  var graph = cfg.graph || { nodes: [], groups: [] };
  var nodesById = {};
  var nodeByState = {};
  graph.nodes.forEach(function (n) {
    nodesById[n.id] = n;
    if (n.name) nodeByState[n.name] = n;
  });
  var groupsById = {};
  graph.groups.forEach(function (g) { groupsById[g.id] = g; });

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "className") e.className = attrs[k];
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }

  function svgNode(nodeId) { return document.getElementById("sm-" + nodeId); }

  /* Tag the drawn states with their names, so tests and styles can find them. */
  graph.nodes.forEach(function (n) {
    var g = svgNode(n.id);
    if (!g) return;
    if (n.name) { g.setAttribute("data-state", n.name); g.setAttribute("tabindex", "0"); }
    if (n.kind === "state") {
      var title = g.querySelector("title");
      if (title) title.textContent = n.name + " (" + n.type + ")";
    }
  });

  /* Zoom and fit of the drawing: static/zoom.js (loaded before this script). */
  var svg = document.querySelector(".graph svg");
  var zoom = svg && window.sfnZoom ? window.sfnZoom(svg, el) : null;


  if (cfg.mode === "machine") {
    graph.nodes.forEach(function (n) {
      var g = svgNode(n.id);
      /* A state drawn with test coverage (engine/ui/coverage.py) keeps its colour. */
      if (g && n.kind === "state" && !g.classList.contains("cov-hit") &&
          !g.classList.contains("cov-miss")) g.classList.add("st-not_reached");
    });
    document.body.setAttribute("data-ready", "1");
    return;
  }

  /* ------------------------------------------------------------------ execution page */

  var labels = cfg.statusLabels || {};
  var ui = { payload: cfg.payload, selected: null, visit: null, focus: null, tab: "execution",
             openEvents: {} };
  var TERMINAL = { SUCCEEDED: 1, FAILED: 1, TIMED_OUT: 1, ABORTED: 1 };

  function pretty(text) {
    if (text === null || text === undefined) return "";
    if (typeof text !== "string") return JSON.stringify(text, null, 2);
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  function badge(status) {
    return el("span", { className: "badge s-" + status, "data-status": status,
                        text: labels[status] || status });
  }

  function execBadge(status) {
    return el("span", { className: "badge x-" + status, text: status.replace("_", " ") });
  }

  /* Nodes inside a Map's box (any depth), for showing one iteration. */
  function nodesInside(mapNodeId) {
    var groups = {};
    graph.groups.forEach(function (g) { if (g.owner === mapNodeId) groups[g.id] = 1; });
    var grew = true;
    while (grew) {
      grew = false;
      graph.groups.forEach(function (g) {
        if (!groups[g.id] && g.parent && groups[g.parent]) { groups[g.id] = 1; grew = true; }
      });
    }
    return graph.nodes.filter(function (n) { return n.group && groups[n.group]; });
  }

  function statusOf(name) {
    var states = ui.payload.view.states;
    var focus = ui.focus;
    if (focus) {
      var inside = focus.inside;
      if (inside[name]) return (focus.iteration.states || {})[name] || "not_reached";
    }
    return states[name] ? states[name].status : "not_reached";
  }

  function colour() {
    var states = ui.payload.view.states;
    graph.nodes.forEach(function (n) {
      if (n.kind !== "state") return;
      var g = svgNode(n.id);
      if (!g) return;
      var status = statusOf(n.name);
      var keep = [];
      g.classList.forEach(function (c) { if (c.indexOf("st-") !== 0) keep.push(c); });
      g.setAttribute("class", keep.concat(["st-" + status]).join(" "));
      g.setAttribute("data-status", status);
      if (ui.selected === n.name) g.classList.add("selected");
      var s = states[n.name];
      var retries = s && !ui.focus ? s.retries : 0;
      var old = g.querySelector("text.retry-badge");
      if (old) old.remove();
      if (retries > 0) {
        var shape = g.querySelector("path, polygon");
        if (shape && shape.getBBox) {
          var box = shape.getBBox();
          var t = document.createElementNS("http://www.w3.org/2000/svg", "text");
          t.setAttribute("class", "retry-badge");
          t.setAttribute("x", box.x + box.width);
          t.setAttribute("y", box.y - 3);
          t.setAttribute("text-anchor", "end");
          t.textContent = "\u21bb" + retries;
          g.appendChild(t);
        }
      }
    });
    var list = document.getElementById("state-list");
    if (list) {
      list.textContent = "";
      Object.keys(states).forEach(function (name) {
        list.appendChild(el("li", { "data-state": name, "data-status": statusOf(name),
                                    onclick: function () { select(name); } },
                            [name + " ", badge(statusOf(name))]));
      });
    }
  }

  function section(title, body) {
    return [el("h3", { text: title }), body];
  }

  function jsonBlock(id, text) {
    return el("pre", { className: "json", id: id, text: pretty(text) });
  }

  function renderExecution() {
    var x = ui.payload.execution;
    var parts = [];
    parts.push(el("div", { className: "meta" }, [x.type + " execution · ", execBadge(x.status)]));
    parts = parts.concat(section("Input", jsonBlock("exec-input", x.input)));
    if (x.output !== null && x.output !== undefined)
      parts = parts.concat(section("Output", jsonBlock("exec-output", x.output)));
    if (x.error || x.cause) {
      parts = parts.concat(section("Error", el("pre", { id: "exec-error",
        text: (x.error || "") + (x.cause ? "\n\n" + pretty(x.cause) : "") })));
    }
    parts.push(el("p", { className: "hint",
      text: "Click a state in the graph to see its input, output and retries." }));
    return parts;
  }

  function flowerLink(name) {
    var taskName = (ui.payload.taskNames || {})[name];
    if (!taskName) return null;
    var bits = ["Celery task ", el("code", { text: taskName })];
    if (cfg.flowerUrl) {
      bits.push(" · ");
      bits.push(el("a", { href: cfg.flowerUrl + "/tasks", target: "_blank", rel: "noopener",
                          text: "Flower" }));
    }
    return el("div", { className: "meta celery" }, bits);
  }

  /* A Lambda-shaped cause is JSON: its errorMessage says it shortly. */
  function shortCause(cause) {
    if (!cause) return "";
    var text = cause;
    try { var c = JSON.parse(cause); if (c && c.errorMessage) text = c.errorMessage; } catch (e) { /* text */ }
    return text.length > 160 ? text.slice(0, 157) + "..." : text;
  }

  /* The Celery task that ran an attempt (recorded by the claim that logged its TaskStarted
   * event): its id, shortened, linked to Flower's page of that task when Flower is set. */
  function celeryTask(a) {
    var id = a.started_id ? (ui.payload.taskIds || {})[String(a.started_id)] : null;
    if (!id) return el("td", { className: "task-id" });
    var code = el("code", { text: id.slice(0, 8) });
    var body = cfg.flowerUrl
      ? el("a", { href: cfg.flowerUrl + "/task/" + encodeURIComponent(id), target: "_blank",
                  rel: "noopener" }, [code])
      : code;
    return el("td", { className: "task-id", title: "Celery task " + id, "data-task-id": id },
              [body]);
  }

  function attemptsTable(visit, isTask) {
    var rows = visit.attempts.map(function (a) {
      var outcome = a.outcome || (a.started_id ? "running" : "scheduled");
      var cls = a.outcome === "succeeded" ? "succeeded" : (a.outcome ? "failed" : "running");
      return el("tr", { "data-attempt": a.number }, [
        el("td", { text: String(a.number) }),
        el("td", { text: (a.scheduled || "").replace("T", " ") }),
        el("td", null, [badge(cls === "running" ? "running" : cls)]),
        el("td", { title: a.cause || "", text: outcome === "succeeded" ? "" :
                   [a.error, shortCause(a.cause)].filter(Boolean).join(": ") }),
        el("td", { className: "num", text: "#" + a.scheduled_id +
                   (a.finished_id ? "–#" + a.finished_id : "") }),
        isTask ? celeryTask(a) : null
      ]);
    });
    var heads = ["Attempt", "Scheduled", "Outcome", "Error", "Events"];
    if (isTask) heads.push("Celery task");
    return el("table", { className: "list attempts" }, [
      el("thead", null, [el("tr", null, heads.map(function (h) { return el("th", { text: h }); }))]),
      el("tbody", null, rows)
    ]);
  }

  function branchesTable(name) {
    var branches = (ui.payload.view.branches || {})[name] || {};
    var owner = nodeByState[name];
    var clusters = graph.groups.filter(function (g) {
      return owner && g.owner === owner.id && g.kind === "branch";
    });
    var rows = clusters.map(function (g, i) {
      var status = branches[String(i)] || "not_reached";
      var states = graph.nodes.filter(function (n) { return n.group === g.id && n.name; })
        .map(function (n) { return n.name; });
      return el("tr", { className: "clickable", "data-branch": i, onclick: function () {
        document.querySelectorAll(".graph g.cluster.focus").forEach(function (c) {
          c.classList.remove("focus"); });
        var c = document.getElementById("sm-" + g.id);
        if (c) {
          c.classList.add("focus");
          if (zoom) zoom.reveal(c); else c.scrollIntoView({ block: "nearest" });
        }
      } }, [el("td", { text: g.label }), el("td", null, [badge(status)]),
            el("td", { text: states.join(", ") })]);
    });
    return el("table", { className: "list branches" }, [
      el("thead", null, [el("tr", null, ["Branch", "Status", "States"]
        .map(function (h) { return el("th", { text: h }); }))]),
      el("tbody", null, rows)
    ]);
  }

  function iterationsTable(name) {
    var visits = (ui.payload.view.maps || {})[name] || [];
    if (!visits.length) return el("p", { className: "hint", text: "No iterations recorded." });
    var which = visits.length - 1;
    var iterations = visits[which];
    var rows = iterations.map(function (it) {
      var inner = Object.keys(it.states || {}).map(function (k) {
        return k + ": " + (labels[it.states[k]] || it.states[k]); }).join(", ");
      var focused = ui.focus && ui.focus.map === name && ui.focus.iteration.index === it.index;
      return el("tr", { className: "clickable" + (focused ? " selected" : ""),
                        "data-iteration": it.index,
                        onclick: function () { focusIteration(name, it); } },
                [el("td", { className: "num", text: String(it.index) }),
                 el("td", null, [badge(it.status)]), el("td", { text: inner })]);
    });
    return el("div", null, [
      visits.length > 1 ? el("p", { className: "hint",
        text: "The Map ran " + visits.length + " times; showing its latest run." }) : null,
      el("table", { className: "list iterations" }, [
        el("thead", null, [el("tr", null, ["Index", "Status", "States in this iteration"]
          .map(function (h) { return el("th", { text: h }); }))]),
        el("tbody", null, rows)
      ])
    ]);
  }

  function focusIteration(mapName, iteration) {
    var node = nodeByState[mapName];
    var inside = {};
    if (node) nodesInside(node.id).forEach(function (n) { if (n.name) inside[n.name] = 1; });
    ui.focus = { map: mapName, iteration: iteration, inside: inside };
    var banner = document.getElementById("focus-banner");
    banner.hidden = false;
    banner.textContent = "Showing iteration " + iteration.index + " of " + mapName + " (" +
      (labels[iteration.status] || iteration.status) + ").";
    banner.appendChild(el("button", { type: "button", id: "focus-clear", text: "Show all",
                                      onclick: clearFocus }));
    colour();
    render();
  }

  function clearFocus() {
    ui.focus = null;
    document.getElementById("focus-banner").hidden = true;
    colour();
    render();
  }

  /* The visit a panel opens on: the latest of those with the most telling status (the
   * rule of telling_index in engine/ui/status.py, which sets openVisit for all of a state's
   * visits; this applies it to the visits of one Map iteration). */
  function tellingVisit(visits) {
    var order = cfg.statusOrder || [];
    for (var k = 0; k < order.length; k++) {
      for (var i = visits.length - 1; i >= 0; i--) if (visits[i].status === order[k]) return i;
    }
    return visits.length - 1;
  }

  function visitLabel(v, i, n) {
    var label = "Visit " + (i + 1) + " of " + n + " (event #" + v.enteredId + ")";
    if (v.iteration) label += " · iteration " + v.iteration[1];
    return label + " · " + (labels[v.status] || v.status);
  }

  function renderState(name) {
    var s = ui.payload.view.states[name];
    var node = nodeByState[name];
    var type = s ? s.type : (node ? node.type : "");
    var status = statusOf(name);
    var parts = [el("h2", { id: "state-name" }, [name + " ", badge(status)])];
    var meta = [type];
    if (s && s.retries) meta.push(s.retries + (s.retries === 1 ? " retry" : " retries"));
    if (s && s.visits.length > 1) meta.push(s.visits.length + " visits");
    parts.push(el("div", { className: "meta" }, [meta.join(" · ")]));
    if (type === "Task") parts.push(flowerLink(name));
    var visits = s ? s.visits : [];
    if (ui.focus && ui.focus.inside[name]) {
      var ids = {};
      (ui.focus.iteration.visits || []).forEach(function (id) { ids[id] = 1; });
      visits = visits.filter(function (v) { return ids[v.enteredId]; });
    }
    if (!visits.length) {
      parts.push(el("p", { className: "hint", id: "state-unreached",
                           text: "This state was not reached" + (ui.focus ? " in this iteration." : ".") }));
    } else {
      var index = ui.visit !== null && ui.visit < visits.length ? ui.visit :
        (visits === s.visits && s.openVisit !== null ? s.openVisit : tellingVisit(visits));
      if (visits.length > 1) {
        var select = el("select", { id: "visit-select", onchange: function (ev) {
          ui.visit = Number(ev.target.value); render(); } },
          visits.map(function (v, i) {
            var o = el("option", { value: String(i), text: visitLabel(v, i, visits.length) });
            if (i === index) o.selected = true;
            return o;
          }));
        parts.push(select);
      }
      var v = visits[index];
      parts.push(el("div", { className: "meta" }, [
        "Entered " + (v.entered || "").replace("T", " ") +
        (v.exited ? " · exited " + v.exited.replace("T", " ") : "")]));
      parts = parts.concat(section("Input", jsonBlock("state-input", v.input)));
      if (v.output !== null && v.output !== undefined)
        parts = parts.concat(section("Output", jsonBlock("state-output", v.output)));
      else if (v.attempts.length && v.attempts[v.attempts.length - 1].output)
        parts = parts.concat(section("Result", jsonBlock("state-output",
                                      v.attempts[v.attempts.length - 1].output)));
      if ((v.error || v.cause) && (v.status === "failed" || v.status === "caught"))
        parts = parts.concat(section("Error", el("pre", { id: "state-error",
          text: (v.error || "") + (v.cause ? "\n\n" + pretty(v.cause) : "") })));
      if (v.attempts.length && (type === "Task" || v.attempts.length > 1))
        parts = parts.concat(section(type === "Task" ? "Attempts" : "Runs",
                                     attemptsTable(v, type === "Task")));
    }
    if (type === "Parallel") parts = parts.concat(section("Branches", branchesTable(name)));
    if (type === "Map") parts = parts.concat(section("Iterations", iterationsTable(name)));
    return parts;
  }

  function render() {
    var body = document.getElementById("details-body");
    body.textContent = "";
    var parts = ui.tab === "state" && ui.selected ? renderState(ui.selected) : renderExecution();
    parts.forEach(function (p) { if (p) body.appendChild(p); });
    document.querySelectorAll(".tabs button").forEach(function (b) {
      b.classList.toggle("on", b.getAttribute("data-tab") === ui.tab);
      if (b.getAttribute("data-tab") === "state") {
        b.disabled = !ui.selected;
        b.textContent = ui.selected ? "State: " + ui.selected : "State";
      }
    });
  }

  function select(name) {
    if (ui.selected !== name) ui.visit = null;
    ui.selected = name;
    ui.tab = "state";
    document.querySelectorAll(".graph g.cluster.focus").forEach(function (c) {
      c.classList.remove("focus"); });
    document.querySelectorAll(".graph g.state.selected").forEach(function (g) {
      g.classList.remove("selected"); });
    var node = nodeByState[name];
    var g = node && svgNode(node.id);
    if (g) g.classList.add("selected");
    render();
  }

  document.querySelectorAll(".tabs button").forEach(function (b) {
    b.addEventListener("click", function () {
      ui.tab = b.getAttribute("data-tab"); render(); });
  });

  graph.nodes.forEach(function (n) {
    if (n.kind !== "state") return;
    var g = svgNode(n.id);
    if (!g) return;
    g.addEventListener("click", function () { select(n.name); });
    g.addEventListener("keydown", function (ev) { if (ev.key === "Enter") select(n.name); });
  });

  /* --- the event table ---------------------------------------------------------- */

  function eventDetails(ev) {
    var out = {};
    Object.keys(ev).forEach(function (k) {
      if (k.slice(-12) !== "EventDetails") return;
      var d = {};
      Object.keys(ev[k]).forEach(function (f) {
        var v = ev[k][f];
        if ((f === "input" || f === "output" || f === "cause") && typeof v === "string") {
          try { v = JSON.parse(v); } catch (e) { /* plain text */ }
        }
        d[f] = v;
      });
      out[k] = d;
    });
    return out;
  }

  function resourceOf(ev) {
    var d = null;
    Object.keys(ev).forEach(function (k) { if (k.slice(-12) === "EventDetails") d = ev[k]; });
    return d && d.resource ? d.resource.split(":").slice(-1)[0] : "";
  }

  function renderEvents() {
    var p = ui.payload;
    var tbody = document.querySelector("#events tbody");
    tbody.textContent = "";
    var first = p.events.length ? Date.parse(p.events[0].timestamp) : 0;
    var steps = p.view.eventState || {};
    var iterations = p.view.eventIteration || {};
    p.events.forEach(function (ev) {
      var index = iterations[String(ev.id)];
      var step = steps[String(ev.id)] || "";
      if (index !== undefined) step += (step ? " \u00b7 " : "") + "iteration " + index;
      var kind = ev.type;
      var cls = /Failed|TimedOut|Aborted/.test(kind) ? "type-fail" :
                (/Succeeded$/.test(kind) ? "type-ok" : "");
      var elapsed = Date.parse(ev.timestamp) - first;
      var row = el("tr", { className: "clickable", "data-event": ev.id,
                           "data-iteration": index === undefined ? null : String(index) }, [
        el("td", { className: "num", text: String(ev.id) }),
        el("td", { className: cls, text: kind }),
        el("td", { text: step }),
        el("td", { text: resourceOf(ev) }),
        el("td", { className: "num", text: isNaN(elapsed) ? "" : elapsed + " ms" }),
        el("td", { text: (ev.timestamp || "").replace("T", " ") })
      ]);
      var detail = el("tr", { className: "detail" }, [el("td", { colspan: "6" }, [
        el("pre", { text: JSON.stringify(eventDetails(ev), null, 2) })])]);
      detail.hidden = !ui.openEvents[ev.id];
      row.addEventListener("click", function () {
        ui.openEvents[ev.id] = !ui.openEvents[ev.id];
        detail.hidden = !ui.openEvents[ev.id];
      });
      tbody.appendChild(row);
      tbody.appendChild(detail);
    });
    var count = document.getElementById("event-count");
    count.textContent = p.eventsTotal > p.events.length ?
      "(last " + p.events.length + " of " + p.eventsTotal + ")" : "(" + p.events.length + ")";
  }

  function renderSummary() {
    var x = ui.payload.execution;
    var status = document.getElementById("exec-status");
    status.textContent = "";
    status.appendChild(execBadge(x.status));
    document.getElementById("exec-stop").textContent = x.stopText || "\u2014";
    document.getElementById("exec-duration").textContent = x.durationText;
    document.getElementById("live").hidden = !!TERMINAL[x.status];
    /* RedriveExecution from the page, when the server offers it (SFN_UI_REDRIVE=1). */
    var redrive = document.getElementById("redrive");
    if (redrive) redrive.hidden = !cfg.redriveUrl || !REDRIVABLE[x.status];
    document.title = x.name + " (" + x.status + ") \u00b7 sfn";
  }

  function update(payload) {
    var before = ui.payload;
    ui.payload = payload;
    if (ui.focus) {
      /* Follow the focused iteration into the new data. */
      var visits = (payload.view.maps || {})[ui.focus.map] || [];
      var its = visits.length ? visits[visits.length - 1] : [];
      var found = its.filter(function (it) { return it.index === ui.focus.iteration.index; })[0];
      if (found) ui.focus.iteration = found;
    }
    renderSummary();
    colour();
    if (!before || before.events.length !== payload.events.length ||
        before.execution.status !== payload.execution.status) {
      renderEvents();
      render();
    }
  }

  function poll() {
    if (TERMINAL[ui.payload.execution.status]) return;
    fetch(cfg.pollUrl, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (payload) {
      update(payload);
      setTimeout(poll, 1000);
    }).catch(function () { setTimeout(poll, 3000); });
  }

  var REDRIVABLE = { FAILED: 1, TIMED_OUT: 1, ABORTED: 1 };
  var redriveButton = document.getElementById("redrive");
  if (redriveButton && cfg.redriveUrl) {
    redriveButton.addEventListener("click", function () {
      redriveButton.disabled = true;
      fetch(cfg.redriveUrl, { method: "POST", headers: { "X-Sfn-Ui": "redrive" } })
        .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
        .then(function (res) {
          redriveButton.disabled = false;
          if (!res[0]) { window.alert(res[1].message || res[1].error); return; }
          ui.payload.execution.status = "RUNNING";
          renderSummary();
          setTimeout(poll, 200);
        }).catch(function () { redriveButton.disabled = false; });
    });
  }

  ui.payload = null;
  update(cfg.payload);
  document.body.setAttribute("data-ready", "1");
  setTimeout(poll, 1000);
})();
