/*
 * fixpath: a small progressive enhancement. Every page works without it.
 * Plain ES2017, no libraries, no inline handlers (CSP script-src 'self').
 * Loaded with `defer`, so the document is parsed when this runs.
 */
(function () {
  "use strict";

  /* Focus the error summary (or whatever asks for it) on load. */
  function focusRequested() {
    var el = document.querySelector("[data-focus]");
    if (!el) return;
    if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    el.focus();
  }

  /* ---------- Agent console keyboard shortcuts ---------- */

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // The key as one of "1".."9", "b", "e", or "" for anything else. Falls back
  // to the physical key on layouts where those keys type something else
  // (Cyrillic letters, or "&" for 1 on AZERTY).
  function shortcutKey(event) {
    var key = typeof event.key === "string" ? event.key.toLowerCase() : "";
    if (/^[1-9be]$/.test(key)) return key;
    if (key.length === 1 && /[a-z0-9]/.test(key)) return "";
    var code = /^(?:Digit|Numpad)([1-9])$|^Key([BE])$/.exec(event.code || "");
    if (!code) return "";
    return (code[1] || code[2]).toLowerCase();
  }

  function shortcuts() {
    if (!document.querySelector("form[data-shortcuts]")) return;

    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.repeat) return;
      if (event.ctrlKey || event.altKey || event.metaKey) return;
      // In a field the keys type (the hint says so); Esc leaves the field,
      // and the keys work again.
      if (isTyping(event.target)) {
        if (event.key === "Escape" && event.target.blur) event.target.blur();
        return;
      }

      var key = shortcutKey(event);
      if (!key) return;

      if (key === "e") {
        var note = document.querySelector('[data-key-focus="e"]');
        if (note) {
          event.preventDefault(); // don't type the "e" into it
          note.focus();
        }
        return;
      }

      if ((key >= "1" && key <= "9") || key === "b") {
        var button = document.querySelector('button[data-key="' + key + '"]');
        if (button && !button.disabled) {
          event.preventDefault();
          button.click();
        }
      }
    });
  }

  /* ---------- No double submits ---------- */

  function preventDoubleSubmit() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form || form.tagName.toLowerCase() !== "form") return;
      if (form.hasAttribute("data-submitted")) {
        event.preventDefault();
        return;
      }
      // Let the submission carry the clicked button's name/value first.
      window.setTimeout(function () {
        if (event.defaultPrevented) return;
        form.setAttribute("data-submitted", "");
        var buttons = form.querySelectorAll('button:not([type]), button[type="submit"], input[type="submit"]');
        for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
      }, 0);
    });

    // Back/forward cache: a restored page must be usable again.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) return;
      var forms = document.querySelectorAll("form[data-submitted]");
      for (var i = 0; i < forms.length; i++) {
        forms[i].removeAttribute("data-submitted");
        var buttons = forms[i].querySelectorAll("button, input[type=\"submit\"]");
        for (var j = 0; j < buttons.length; j++) {
          // The current language's button is disabled by the page itself.
          if (!buttons[j].hasAttribute("aria-current")) buttons[j].disabled = false;
        }
      }
    });
  }

  /* ---------- Session expiry warning ---------- */

  // RFC 3339 allows a space or lower-case "t"/"z" and any number of fraction
  // digits; Date.parse is only sure of the ISO form with milliseconds.
  function parseRfc3339(text) {
    var m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:[.,](\d+))?([Zz]|[+-]\d{2}:\d{2})$/.exec(
      String(text).trim()
    );
    if (!m) return NaN;
    var ms = ((m[3] || "") + "000").slice(0, 3);
    var zone = m[4] === "z" ? "Z" : m[4];
    return Date.parse(m[1] + "T" + m[2] + "." + ms + zone);
  }

  // The warning shows for the last part of the idle limit only: at most two
  // minutes, and at most a fifth of a short limit, so it never greets a
  // page that was just loaded.
  var WARN_MAX_MS = 2 * 60 * 1000;

  function expiryWarning() {
    var expiry = document.querySelector(".expiry[data-expires]");
    var box = document.querySelector("form.expiry-warning");
    if (!expiry || !box) return;
    var at = parseRfc3339(expiry.getAttribute("data-expires"));
    var idleMs = Number(expiry.getAttribute("data-idle-seconds")) * 1000;
    if (isNaN(at) || !(idleMs > 0)) return;
    var text = box.querySelector(".expiry-warning-text");
    var lang = expiry.getAttribute("data-lang") || "en";
    var rules = null;
    try {
      rules = new Intl.PluralRules(lang);
    } catch (e) {
      rules = null;
    }

    // The warning in the right plural form for `n` minutes (CLDR rules,
    // as the server uses them).
    function warning(n) {
      var form = rules ? rules.select(n) : n === 1 ? "one" : "other";
      var t = expiry.getAttribute("data-warn-" + form) || expiry.getAttribute("data-warn-other") || "";
      return t.replace("{n}", String(n));
    }

    var warnMs = Math.min(WARN_MAX_MS, idleMs / 5);
    var main = document.querySelector("main");

    function reveal() {
      // At the top of the page, where it is seen.
      if (main && box.parentNode !== main) main.insertBefore(box, main.firstChild);
      box.hidden = false;
    }
    var timer = null;

    function tick() {
      var left = at - Date.now();
      if (left <= 0) {
        // Over: keeping it is no longer possible; say so instead.
        text.textContent = expiry.getAttribute("data-ended") || "";
        var button = box.querySelector("button");
        if (button) button.hidden = true;
        reveal();
        return;
      }
      if (left <= warnMs) {
        text.textContent = warning(Math.ceil(left / 60000));
        reveal();
        // Count down: the next whole minute, or the end.
        timer = window.setTimeout(tick, Math.min(left, ((left - 1) % 60000) + 1));
      } else {
        timer = window.setTimeout(tick, Math.min(left - warnMs, 2147483647));
      }
    }
    tick();
    box.addEventListener("submit", function () {
      if (timer) window.clearTimeout(timer);
    });
  }

  /* ---------- Resume link: select on click ---------- */

  function resumeLink() {
    var inputs = document.querySelectorAll(".resume-link input[readonly]");
    for (var i = 0; i < inputs.length; i++) {
      inputs[i].addEventListener("click", selectAll);
      inputs[i].addEventListener("focus", selectAll);
    }
    function selectAll(event) {
      var input = event.currentTarget;
      try {
        input.setSelectionRange(0, input.value.length);
      } catch (e) {
        input.select();
      }
    }
  }

  /* ---------- A trail that scrolls on its own must be reachable by keyboard ---------- */

  function scrollablePanels() {
    var panels = document.querySelectorAll(".trail-panel");
    function update() {
      for (var i = 0; i < panels.length; i++) {
        var p = panels[i];
        if (p.scrollHeight > p.clientHeight + 1) {
          if (!p.hasAttribute("tabindex")) p.setAttribute("tabindex", "0");
        } else if (p.getAttribute("tabindex") === "0") {
          p.removeAttribute("tabindex");
        }
      }
    }
    if (!panels.length) return;
    // The newest entry is what the agent needs: keep it in view.
    for (var i = 0; i < panels.length; i++) panels[i].scrollTop = panels[i].scrollHeight;
    update();
    window.addEventListener("resize", update);
  }

  function init() {
    focusRequested();
    shortcuts();
    preventDoubleSubmit();
    expiryWarning();
    resumeLink();
    scrollablePanels();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
