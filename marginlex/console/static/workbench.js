// marginlex workbench: check the text as it is typed (the page works without this file).
// Posts the form to /workbench/check (debounced) and lists the diagnostics beside the text;
// a click on one selects its line. No library, no inline code: the CSP allows 'self' only.
"use strict";
(function () {
  const form = document.getElementById("editor");
  const text = document.getElementById("text");
  const list = document.getElementById("diagnostics");
  const status = document.getElementById("check-status");
  if (!form || !text || !list || !status) return;
  let timer = null;
  let asked = 0;

  function item(d) {
    const li = document.createElement("li");
    li.className = "diag sev-" + d.severity;
    li.dataset.line = String(d.line);
    li.tabIndex = 0; // reachable from the keyboard: Enter selects the line, as a click
    li.append("line " + d.line + ":" + d.column + " ");
    const code = document.createElement("code");
    code.textContent = d.code;
    li.append(code, " " + d.message);
    if (d.hint) {
      const hint = document.createElement("span");
      hint.className = "hint";
      hint.textContent = " hint: " + d.hint;
      li.append(hint);
    }
    return li;
  }

  function show(answer) {
    list.replaceChildren(...answer.diagnostics.map(item));
    status.textContent = answer.clean ? "clean" : answer.diagnostics.length + " diagnostic(s)";
    status.className = answer.clean ? "pass" : "fail";
  }

  async function check() {
    const mine = ++asked;
    status.textContent = "checking…";
    const body = new URLSearchParams(new FormData(form));
    const response = await fetch("/workbench/check", {
      method: "POST",
      headers: { accept: "application/json" },
      body: body,
      credentials: "same-origin",
    });
    if (mine !== asked) return; // a newer check is on its way
    if (!response.ok) {
      status.textContent = "check failed: HTTP " + response.status;
      return;
    }
    show(await response.json());
  }

  text.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  });

  function select(li) {
    const lines = text.value.split("\n");
    const n = Number(li.dataset.line) - 1;
    const start = lines.slice(0, n).reduce((sum, l) => sum + l.length + 1, 0);
    text.focus();
    text.setSelectionRange(start, start + (lines[n] || "").length);
  }

  list.addEventListener("click", function (event) {
    const li = event.target.closest("li[data-line]");
    if (li) select(li);
  });
  list.addEventListener("keydown", function (event) {
    const li = event.target.closest("li[data-line]");
    if (li && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      select(li);
    }
  });
})();
