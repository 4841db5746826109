// The instructor's dashboard: polls /api/instructor/summary and shows it as tables. Every value
// from the server (student answers above all) goes into the page as text nodes, never as HTML.
"use strict";

(function () {
  const POLL = 3000;            // ms between updates
  const KEY = "derive-instructor-token";
  let remembered = null;

  function token() {
    const given = new URLSearchParams(location.search).get("token");
    if (given) {
      try { sessionStorage.setItem(KEY, given); } catch (e) { /* storage off */ }
      history.replaceState(null, "", location.pathname);
      remembered = given;
    }
    if (remembered) return remembered;
    try { return sessionStorage.getItem(KEY); } catch (e) { return null; }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, String(v));
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function cell(v) { return el("td", { text: v === null || v === undefined ? "–" : String(v) }); }

  function wrongList(wrong) {
    if (!wrong.length) return el("td", { text: "–" });
    const list = el("ul", { class: "wrong" });
    for (const w of wrong) {
      const item = el("li", {}, el("code", { text: w.answer }),
                      ` — ${w.count} attempt${w.count === 1 ? "" : "s"} by ${w.students} student${w.students === 1 ? "" : "s"}`);
      for (const d of w.diagnosis) item.append(" ", el("span", { class: "tag", text: d }));
      list.append(item);
    }
    return el("td", {}, list);
  }

  function render(data) {
    const main = document.getElementById("dashboard");
    if (!data.questions.length) {
      main.replaceChildren(el("p", { id: "status", text: "No attempts yet." }));
      return;
    }
    const head = el("tr", {}, ...["Problem", "Question", "Tried", "Right", "Attempts", "Attempts to right (mean / median)",
                                  "Most common wrong answers"].map((h) => el("th", { scope: "col", text: h })));
    const body = el("tbody");
    for (const q of data.questions) {
      const a = q.attempts_to_right;
      body.append(el("tr", { "data-problem": q.problem, "data-quantity": q.quantity },
                     cell(q.problem), cell(q.quantity), el("td", { class: "tried", text: String(q.students) }),
                     el("td", { class: "right", text: String(q.right) }), cell(q.attempts),
                     cell(a.mean === null ? null : `${a.mean} / ${a.median}`), wrongList(q.wrong)));
    }
    main.replaceChildren(el("p", { id: "total", text: `${data.attempts} attempts stored` }),
                         el("table", { class: "dashboard" }, el("thead", {}, head), body));
  }

  async function poll() {
    const status = document.getElementById("updated");
    try {
      const r = await fetch("/api/instructor/summary", { headers: { Authorization: `Bearer ${token() || ""}` } });
      let data = null;
      try { data = await r.json(); } catch (e) { data = null; }
      if (!r.ok) throw new Error((data && data.error) || `the server answered ${r.status}`);
      render(data);
      status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      status.textContent = e.message;
      const s = document.getElementById("status");
      if (s) s.textContent = e.message;
    }
    setTimeout(poll, POLL);
  }

  document.addEventListener("DOMContentLoaded", poll);
})();
