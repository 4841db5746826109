// The derive page: pick a problem, type answers, see how they were read, check them.
// Everything the server or a student sends is put into the page as text nodes or through
// KaTeX with trust off; no HTML string is ever built from data (no innerHTML anywhere).
"use strict";

(function () {
  const KATEX = Object.freeze({ trust: false, maxExpand: 200, maxSize: 20, throwOnError: false,
                                strict: "ignore", output: "htmlAndMathml" });
  const PREVIEW_DELAY = 200;   // ms after the last keystroke
  let current = null;          // the problem shown

  // ---- small DOM helpers -------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function math(tex, display) {
    const span = el("span", { class: "math" });
    if (window.katex) katex.render(String(tex), span, Object.assign({}, KATEX, { displayMode: !!display }));
    else span.textContent = String(tex);
    return span;
  }

  function prose(blocks) {
    const out = document.createDocumentFragment();
    let list = null;
    for (const b of blocks) {
      const line = el(b.item ? "li" : "p");
      for (const part of b.parts) {
        if ("math" in part) line.append(math(part.math));
        else if ("em" in part) line.append(el("em", { text: part.em }));
        else if ("strong" in part) line.append(el("strong", { text: part.strong }));
        else if ("code" in part) line.append(el("code", { text: part.code }));
        else line.append(document.createTextNode(part.text));
      }
      if (b.item) {
        if (!list) { list = el("ul"); out.append(list); }
        list.append(line);
      } else {
        list = null;
        out.append(line);
      }
    }
    return out;
  }

  class ApiError extends Error {}

  // A course server's personal link ends in ?token=...: remembered here, then taken out of the address bar.
  const TOKEN_KEY = "derive-token";
  let remembered = null;      // the token, also when storage is off
  function token() {
    const given = new URLSearchParams(location.search).get("token");
    if (given) {
      try { localStorage.setItem(TOKEN_KEY, given); } catch (e) { /* storage off: this visit only */ }
      history.replaceState(null, "", location.pathname + location.hash);
      remembered = given;
    }
    if (remembered) return remembered;
    try { return localStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  function requestKey() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function api(path, body, extra) {
    const headers = Object.assign({}, extra || {});
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const init = body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) };
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError("the server cannot be reached");
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new ApiError((data && data.error) || `the server answered ${response.status}`);
    return data;
  }

  function setStatus(text) {
    const s = document.getElementById("status");
    if (s) s.textContent = text;
  }

  // ---- one answer field --------------------------------------------------------------------
  function quantityBlock(problem, q, i) {
    const id = `answer-${i}`;
    const label = el("label", { for: id }, "Answer for ", math(q.latex),
                     el("span", { class: "sr-only", text: ` (${q.name})` }));
    const input = q.kind === "prose"
      ? el("textarea", { id, "data-quantity": q.name, spellcheck: "true",
                         "aria-describedby": `preview-${i} result-${i}` })
      : el("input", { id, type: "text", "data-quantity": q.name, autocomplete: "off", spellcheck: "false",
                      autocapitalize: "off", "aria-describedby": `preview-${i} result-${i}` });
    const check = el("button", { type: "button", class: "primary", "data-action": "check" }, "Check");
    const row = el("div", { class: "row" }, input, check);
    const preview = el("div", { id: `preview-${i}`, class: "preview", "aria-live": "polite" });
    const result = el("div", { id: `result-${i}`, class: "result", role: "status", "aria-live": "polite" });
    const block = el("section", { class: "quantity", "data-quantity": q.name }, label, row);
    let editor = null;
    if (q.kind !== "prose") {
      const toggle = el("button", { type: "button", "aria-pressed": "false", "data-action": "editor",
                                    "aria-controls": `editor-${i}` }, "Visual editor");
      row.append(toggle);
      toggle.addEventListener("click", () => {
        const open = toggle.getAttribute("aria-pressed") !== "true";
        toggle.setAttribute("aria-pressed", String(open));
        if (open && !editor) editor = mathEditor(block, input, i, q, () => runCheck());
        if (editor) editor.hidden = !open;
        if (open && editor && editor.focus) editor.focus();
      });
    }
    block.append(preview, result);

    let seq = 0, timer = null;
    async function runPreview() {
      const mine = ++seq;
      const answer = input.value;
      if (!answer.trim() || q.kind === "prose") { preview.replaceChildren(); return; }
      try {
        const r = await api("/api/preview", { problem: problem.id, quantity: q.name, answer });
        if (mine !== seq) return;
        showPreview(preview, r, answer);
      } catch (e) {
        if (mine === seq) { preview.className = "preview error"; preview.replaceChildren(e.message); }
      }
    }
    let checking = 0;
    async function runCheck() {
      const mine = ++checking;
      const answer = input.value;
      result.className = "result";
      result.replaceChildren("Checking…");
      try {
        const r = await api("/api/check", { problem: problem.id, quantity: q.name, answer },
                            { "Idempotency-Key": requestKey() });
        if (mine === checking) showResult(result, r);
      } catch (e) {
        if (mine === checking) { result.className = "result error"; result.replaceChildren(e.message); }
      }
    }
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(runPreview, PREVIEW_DELAY); });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !(q.kind === "prose" && e.shiftKey)) { e.preventDefault(); clearTimeout(timer); runPreview(); runCheck(); }
    });
    check.addEventListener("click", () => { runPreview(); runCheck(); });
    return block;
  }

  function mathEditor(block, input, i, q, onEnter) {
    if (!window.MathLive || !window.customElements.get("math-field")) return null;
    const mf = new MathLive.MathfieldElement();
    mf.id = `editor-${i}`;
    mf.setAttribute("aria-label", `visual editor for ${q.name}; its LaTeX goes into the answer field`);
    mf.value = input.value.includes("\\") ? input.value : "";
    mf.addEventListener("input", () => {
      input.value = mf.getValue("latex-expanded");
      input.dispatchEvent(new Event("input"));
    });
    mf.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); onEnter(); } });
    block.querySelector(".row").after(mf);
    return mf;
  }

  function showPreview(node, r, answer) {
    if (r.ok) {
      node.className = "preview";
      node.replaceChildren(...(r.interpreted ? ["read as ", math(r.interpreted)] : []));
      return;
    }
    node.className = "preview error";
    const parts = [el("span", { text: r.error })];
    if (r.offset !== null && r.offset !== undefined && answer.length <= 200) {
      parts.push(el("pre", { class: "caret", "aria-hidden": "true",
                             text: `${answer}\n${" ".repeat(Math.min(r.offset, answer.length))}^` }));
    }
    node.replaceChildren(...parts);
  }

  function showResult(node, r) {
    node.className = `result ${r.verdict}`;
    const head = el("p", {}, el("span", { class: "verdict", text: r.verdict }));
    for (const code of r.diagnosis) head.append(el("span", { class: "tag", text: code }));
    const parts = [head];
    if (r.feedback.length) parts.push(el("ul", {}, ...r.feedback.map((f) => el("li", { text: f }))));
    node.replaceChildren(...parts);
  }

  // ---- the solution --------------------------------------------------------------------------
  function solutionBlock(sol) {
    const box = el("section", { class: "solution", id: "solution", hidden: true, "aria-label": "Solution" });
    if (sol.steps.length) {
      box.append(el("h3", { text: "Backward pass" }));
      box.append(el("ol", {}, ...sol.steps.map((s) => el("li", {}, math(s.latex),
                                                          el("span", { class: "rule", text: s.rule })))));
    }
    box.append(el("h3", { text: "Results" }));
    const list = el("ul");
    for (const q of sol.quantities) {
      if (!q.graded) {
        list.append(el("li", {}, el("strong", { text: `${q.name}: ` }), el("div", {}, prose(q.parts))));
        continue;
      }
      const item = el("li", {}, math(`${q.name_latex} = ${q.latex}`));
      if (q.shape) item.append(el("span", { class: "rule", text: `(${q.shape})` }));
      item.append(el("span", { class: "rule", text: `checked by ${q.checked_by}` }));
      list.append(item);
    }
    box.append(list);
    return box;
  }

  // ---- a problem -------------------------------------------------------------------------------
  async function show(name) {
    const main = document.getElementById("problem");
    main.replaceChildren(el("p", { id: "status", role: "status", text: "Loading…" }));
    let p;
    try {
      p = await api(`/api/problems/${encodeURIComponent(name)}`);
    } catch (e) {
      setStatus(e.message);
      return;
    }
    current = p;
    const about = el("div", { class: "about" }, el("div", { class: "statement" }, prose(p.statement)));
    if (p.graph_svg) {
      const img = el("img", { alt: `Computational graph of ${p.title}`, src: "data:image/svg+xml;charset=utf-8," +
                              encodeURIComponent(p.graph_svg) });
      about.append(el("figure", {}, img, el("figcaption", { text: "The computational graph (forward pass)." })));
    }
    const answers = el("div", { class: "answers" }, el("h3", { text: "Your answers" }));
    p.quantities.forEach((q, i) => answers.append(quantityBlock(p, q, i)));
    const parts = [el("h2", { text: p.title }), el("p", { class: "source", text: `${p.alias || p.id} · from ${p.source}` +
                                                  (p.variant !== null && p.variant !== undefined ? ` · your variant ${p.variant}` : "") }),
                   el("div", { class: "columns" }, about, answers)];
    if (p.solution) {
      const box = solutionBlock(p.solution);
      const button = el("button", { type: "button", "aria-expanded": "false", "aria-controls": "solution",
                                    "data-action": "solution" }, "Show the solution");
      button.addEventListener("click", () => {
        box.hidden = !box.hidden;
        button.setAttribute("aria-expanded", String(!box.hidden));
        button.textContent = box.hidden ? "Show the solution" : "Hide the solution";
      });
      answers.append(button, box);
    }
    main.replaceChildren(...parts);
    document.title = `${p.alias || p.id} — derive`;
    const select = document.getElementById("problem-select");
    if (select.value !== p.id) select.value = p.id;
  }

  async function start() {
    if (window.MathLive) {
      MathLive.MathfieldElement.fontsDirectory = "/static/vendor/katex/fonts/";
      MathLive.MathfieldElement.soundsDirectory = null;
    }
    const select = document.getElementById("problem-select");
    let list;
    try {
      list = await api("/api/problems");
    } catch (e) {
      setStatus(e.message);
      return;
    }
    if (token()) {
      try {
        const me = await api("/api/me");
        document.getElementById("who").textContent = `Signed in as ${me.name}`;
      } catch (e) {
        document.getElementById("who").textContent = e.message;
      }
    }
    for (const p of list) select.append(el("option", { value: p.id, text: `${p.alias || p.id}: ${p.title}` }));
    select.addEventListener("change", () => { location.hash = select.value; });
    window.addEventListener("hashchange", () => show(decodeURIComponent(location.hash.slice(1))));
    const wanted = decodeURIComponent(location.hash.slice(1));
    await show(list.some((p) => p.id === wanted || p.alias === wanted) ? wanted : list[0].id);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
