// Keyboard screening: i/e/m choose, digits pick a reason (exclude) or toggle a theme
// (include), t accepts the best theme suggestion, n saves (or skips when nothing is chosen),
// u undoes, ? shows help.
// On the lead's conflict page the same keys work on the first conflict's own decision form,
// and a / b agree with its first / second reviewer (on a theme conflict: take their themes;
// c takes both).
(function () {
  "use strict";
  const form = document.querySelector("[data-keys-form]");
  const help = document.getElementById("help");
  const undoForm = document.getElementById("undo-form");
  // the full-text stage: r marks the full text as not retrievable
  const notRetrievable = document.querySelector("form.not-retrievable");
  const skipForm = document.getElementById("skip-form");
  const card = form && form.closest(".conflict");
  const keys = { i: "include", e: "exclude", m: "maybe" };
  let digits = "";
  let digitTimer = null;
  const wide = window.matchMedia("(min-width: 1000px)");  // the panel beside the record
  let fitting = false;

  function chosen() {
    const input = form && form.querySelector("input[name=decision]:checked");
    return input ? input.value : null;
  }
  // Theme suggestions: fetched once the reviewer chooses include, shown as buttons; nothing
  // is ticked until the reviewer clicks one or presses t (the best one not yet ticked).
  const suggestions = document.getElementById("suggestions");
  let suggested = null;
  function themeBox(slug) {
    return form.querySelector(`input[name=themes][value="${CSS.escape(slug)}"]`);
  }
  function renderSuggestions(items) {
    const list = suggestions.querySelector(".items");
    list.textContent = "";
    if (!items.length) { list.textContent = suggestions.dataset.empty; if (form.closest(".screen-layout")) fitPanel(); return; }
    items.forEach((item) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "suggestion";
      button.dataset.slug = item.slug;
      button.textContent = `${item.label} (${Math.round(item.confidence * 100)} %)`;
      button.addEventListener("click", () => acceptSuggestion(item.slug));
      list.appendChild(button);
    });
    if (form.closest(".screen-layout")) fitPanel();  // the buttons took room from the list
  }
  function loadSuggestions() {
    if (!suggestions || suggested !== null) return;
    suggested = [];
    fetch(suggestions.dataset.url, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : { suggestions: [] }))
      .then((data) => { suggested = data.suggestions || []; renderSuggestions(suggested); })
      .catch(() => renderSuggestions([]));
  }
  function acceptSuggestion(slug) {
    const box = slug && themeBox(slug);
    if (!box) return;
    box.checked = true;
    box.dispatchEvent(new Event("change", { bubbles: true }));
    const button = suggestions.querySelector(`button[data-slug="${CSS.escape(slug)}"]`);
    if (button) button.classList.add("accepted");
  }
  function acceptBest() {
    if (!suggested) return;
    const next = suggested.find((item) => { const b = themeBox(item.slug); return b && !b.checked; });
    if (next) acceptSuggestion(next.slug);
  }
  function showPanels() {
    if (!form) return;
    const value = chosen();
    if (value === "include") loadSuggestions();
    form.classList.toggle("show-include", value === "include");
    form.classList.toggle("show-exclude", value === "exclude");
    form.classList.toggle("has-choice", Boolean(value));
    if (form.closest(".screen-layout")) fitPanel();
  }
  function choose(value) {
    const input = form.querySelector(`input[name=decision][value=${value}]`);
    const details = form.closest("details");
    if (details) details.open = true;
    if (input) { input.checked = true; showPanels(); }
  }
  function listFor(value) {
    if (value === "exclude") return form.querySelectorAll("input[name=reason]");
    if (value === "include") return form.querySelectorAll("input[name=themes]");
    return [];
  }
  function apply(number) {
    const input = Array.from(listFor(chosen())).find((el) => el.dataset.number === number);
    if (!input) return;
    input.checked = input.type === "radio" ? true : !input.checked;
  }
  function typeDigit(digit) {
    const count = listFor(chosen()).length;
    if (!count) return;
    digits += digit;
    clearTimeout(digitTimer);
    // Wait for a second digit only while a two-digit number could still follow.
    if (Number(digits) * 10 <= count && digits.length < 2) {
      digitTimer = setTimeout(() => { apply(digits); digits = ""; }, 600);
    } else {
      apply(digits);
      digits = "";
    }
  }
  function flushDigits() {
    // n pressed while a second digit could still follow: use the digit typed so far.
    if (!digits) return;
    clearTimeout(digitTimer);
    apply(digits);
    digits = "";
  }
  function submit() {
    if (!form) return;
    flushDigits();
    if (!chosen()) { if (skipForm) skipForm.requestSubmit(); return; }
    form.requestSubmit();
  }
  if (form) {
    form.classList.add("js");
    form.addEventListener("change", showPanels);
    showPanels();
  }
  document.querySelectorAll("form.decision:not([data-keys-form])").forEach((other) => {
    other.addEventListener("change", () => {
      const value = (other.querySelector("input[name=decision]:checked") || {}).value;
      other.classList.toggle("show-include", value === "include");
      other.classList.toggle("show-exclude", value === "exclude");
    });
  });
  // A long theme list: typing in its filter hides the themes that do not match (and group
  // headings left empty); Enter ticks the first one shown and clears the filter; the legend
  // counts the ticked themes, which stay ticked while hidden.
  document.querySelectorAll("[data-theme-filter]").forEach((box) => {
    const fieldset = box.closest("fieldset");
    const list = fieldset.querySelector(".theme-list") || fieldset;
    function filter() {
      const words = box.value.trim().toLowerCase();
      let heading = null;
      let shown = false;
      const close = () => { if (heading) heading.hidden = !shown; };
      Array.from(list.children).forEach((el) => {
        if (el.matches("p.group")) { close(); heading = el; shown = false; return; }
        if (el.tagName !== "LABEL") return;  // (the suggestions stay)
        el.hidden = Boolean(words) && !el.textContent.toLowerCase().includes(words);
        shown = shown || !el.hidden;
      });
      close();
    }
    box.addEventListener("input", filter);
    box.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();  // never submits the decision
      const first = fieldset.querySelector("label:not([hidden]) input[name=themes]");
      if (first && box.value.trim()) {
        first.checked = !first.checked;
        first.dispatchEvent(new Event("change", { bubbles: true }));
      }
      box.value = "";
      filter();
    });
  });
  function countThemes(scope) {
    scope.querySelectorAll("fieldset.themes").forEach((fieldset) => {
      const label = fieldset.querySelector(".chosen-count");
      if (!label) return;
      const n = fieldset.querySelectorAll("input[name=themes]:checked").length;
      label.textContent = n ? `(${label.dataset.chosenLabel.replace("{n}", n)})` : "";
    });
  }
  document.addEventListener("change", (event) => {
    if (event.target.name === "themes") countThemes(event.target.closest("form") || document);
  });
  // Beside the record (laptop), the panel is as tall as the window below its top, so the
  // summary, note and Save are always in view and only the theme or reason list scrolls.
  const layout = form && form.closest(".screen-layout");
  function fitPanel() {
    fitting = false;
    if (wide.matches) {
      const top = Math.max(form.getBoundingClientRect().top, 0);
      form.style.maxHeight = `${Math.max(window.innerHeight - top - 10, 240)}px`;
    } else {
      form.style.maxHeight = "";
    }
    // the theme list gives up what the panel lacks (never below four lines)
    const list = form.querySelector(".theme-list");
    if (!list) return;
    list.style.maxHeight = "";
    const over = form.scrollHeight - form.clientHeight;
    if (list.offsetHeight && over > 0) {
      list.style.maxHeight = `${Math.max(list.offsetHeight - over - 2, 96)}px`;
    }
  }
  if (layout) {
    const later = () => { if (!fitting) { fitting = true; requestAnimationFrame(fitPanel); } };
    window.addEventListener("scroll", later, { passive: true });
    window.addEventListener("resize", later);
    fitPanel();
  }
  const showHelp = document.getElementById("show-help");
  if (showHelp) showHelp.addEventListener("click", () => help.showModal());

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.matches && target.matches("input[type=text], input[type=search], input:not([type]), textarea, select")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    const key = event.key;
    if (key === "?") { help.open ? help.close() : help.showModal(); event.preventDefault(); return; }
    if (help && help.open) return;
    if (form && keys[key]) { choose(keys[key]); event.preventDefault(); }
    else if (form && /^[0-9]$/.test(key)) { typeDigit(key); event.preventDefault(); }
    else if (key === "n") { submit(); event.preventDefault(); }
    else if (key === "t" && form && chosen() === "include") { acceptBest(); event.preventDefault(); }
    else if (key === "/" && form && chosen() === "include" && form.querySelector("[data-theme-filter]")) {
      form.querySelector("[data-theme-filter]").focus();
      event.preventDefault();
    }
    else if (key === "u" && undoForm) { undoForm.requestSubmit(); event.preventDefault(); }
    else if (key === "r" && notRetrievable) { notRetrievable.requestSubmit(); event.preventDefault(); }
    else if ((key === "a" || key === "b" || key === "c") && card) {
      const agree = card.querySelector(`[data-agree=${key}]`);
      if (agree) { agree.requestSubmit(); event.preventDefault(); }
    }
  });
  // Tells tests (and anyone scripting the page) that the keys now work.
  document.body.dataset.keys = "ready";
})();
