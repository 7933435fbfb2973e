/* Zoom and fit of the state machine's drawing (the sfn web view; used by ui.js).
 *
 * Graphviz gives the drawing's whole extent as its viewBox, in points. The pane is as wide
 * as the page allows and at most 75% of the window high; this shows a rectangle of the
 * drawing (`view`) scaled to fill it, by rewriting the viewBox, so it stays sharp at any
 * scale. Fit shows it all (a large machine shrinks into the pane; a small one grows no more
 * than 1.15x its natural size); + and - zoom around the centre, the wheel around the
 * pointer; dragging pans. data-zoom on the <svg> is the scale (1: natural size).
 *
 *   var zoom = window.sfnZoom(svgElement, el);  // el: ui.js's element builder
 *   zoom.fit(); zoom.reveal(someGroup);         // null when the drawing has no viewBox
 */
"use strict";

window.sfnZoom = function (svg, el) {
  var box = svg.viewBox && svg.viewBox.baseVal;
  if (!box || !box.width || !box.height) return null;
  var PT = 4 / 3;  /* CSS pixels per point */
  var full = { x: box.x, y: box.y, w: box.width, h: box.height };
  var pane = svg.parentNode;
  var size = { w: 0, h: 0 };
  var view = { x: full.x, y: full.y, w: full.w, h: full.h, s: PT };
  var drag = null;
  var moved = false;
  pane.classList.add("zoomable");
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.setAttribute("preserveAspectRatio", "xMinYMin meet");

  function fitScale() {
    return Math.min(size.w / full.w, size.h / full.h, PT * 1.15);
  }
  function layout() {
    var width = Math.max(200, pane.clientWidth);
    var fitW = Math.min(width / full.w, PT * 1.15);
    var most = Math.max(240, Math.round(window.innerHeight * 0.75));
    size.w = width;
    size.h = Math.max(120, Math.min(most, Math.ceil(full.h * fitW)));
    svg.style.width = size.w + "px";
    svg.style.height = size.h + "px";
  }
  function apply() {
    view.w = size.w / view.s;
    view.h = size.h / view.s;
    svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].map(function (n) {
      return n.toFixed(2); }).join(" "));
    svg.setAttribute("data-zoom", (view.s / PT).toFixed(3));
  }
  function centreOn(ux, uy, scale) {
    view.s = scale;
    view.x = ux - size.w / scale / 2;
    view.y = uy - size.h / scale / 2;
    apply();
  }
  function fit() {
    layout();
    centreOn(full.x + full.w / 2, full.y + full.h / 2, fitScale());
  }
  /* Zoom by `factor`, keeping the drawing's point under (px, py) (pane pixels) still. */
  function zoomAt(factor, px, py) {
    var least = Math.min(fitScale(), PT) / 2;
    var scale = Math.max(least, Math.min(PT * 8, view.s * factor));
    var ux = view.x + px / view.s;
    var uy = view.y + py / view.s;
    view.s = scale;
    view.x = ux - px / scale;
    view.y = uy - py / scale;
    apply();
  }
  function pointer(ev) {
    var r = svg.getBoundingClientRect();
    return { x: ev.clientX - r.left, y: ev.clientY - r.top };
  }
  /* Bring an element of the drawing into view (a Parallel's branch box, say). */
  function reveal(element) {
    var r = svg.getBoundingClientRect();
    var e = element.getBoundingClientRect();
    if (e.left >= r.left && e.right <= r.right && e.top >= r.top && e.bottom <= r.bottom)
      return;
    var ux = view.x + ((e.left + e.right) / 2 - r.left) / view.s;
    var uy = view.y + ((e.top + e.bottom) / 2 - r.top) / view.s;
    var scale = Math.min(view.s, size.w / (e.width / view.s + 20),
                         size.h / (e.height / view.s + 20));
    centreOn(ux, uy, Math.max(scale, Math.min(fitScale(), PT) / 2));
  }

  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var p = pointer(ev);
    var delta = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
    zoomAt(Math.pow(1.0015, -Math.max(-300, Math.min(300, delta))), p.x, p.y);
  }, { passive: false });
  svg.addEventListener("mousedown", function (ev) {
    if (ev.button !== 0) return;
    drag = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y };
    moved = false;
  });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) return;
    var dx = ev.clientX - drag.x;
    var dy = ev.clientY - drag.y;
    if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    moved = true;
    pane.classList.add("panning");
    view.x = drag.vx - dx / view.s;
    view.y = drag.vy - dy / view.s;
    apply();
  });
  window.addEventListener("mouseup", function () {
    drag = null;
    pane.classList.remove("panning");
  });
  /* A drag that ends on a state is a pan, not a click on it. */
  svg.addEventListener("click", function (ev) {
    if (moved) { ev.stopPropagation(); moved = false; }
  }, true);
  window.addEventListener("resize", fit);

  function button(id, label, title, action) {
    return el("button", { type: "button", id: id, title: title, text: label,
                          onclick: action });
  }
  var centre = function () { return { x: size.w / 2, y: size.h / 2 }; };
  pane.insertBefore(el("div", { className: "zoom" }, [
    button("zoom-in", "+", "Zoom in (or the mouse wheel)", function () {
      var c = centre(); zoomAt(1.25, c.x, c.y); }),
    button("zoom-out", "\u2212", "Zoom out", function () {
      var c = centre(); zoomAt(0.8, c.x, c.y); }),
    button("zoom-fit", "Fit", "Show the whole state machine", fit),
    button("zoom-actual", "1:1", "Natural size", function () {
      centreOn(view.x + view.w / 2, view.y + view.h / 2, PT); })
  ]), svg);
  fit();
  return { fit: fit, reveal: reveal };
};
