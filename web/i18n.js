// English and Russian for the dashboard and the contact page (issue 12, item 7).
//
// The language: the one the person chose on the page (kept in localStorage under
// "cachalot.language"), else the one saved on the signed-in client's account (the
// language the e-mails are written in: the dashboard reads it from GET /api/v1/me
// and keeps it under "cachalot.language.account", I18N.adopt), else the browser's
// first of navigator.languages we have (the same list it sends as
// Accept-Language), else English. Messages come from
// one catalogue per language, /i18n/<lang>.json, keyed by the English text
// (gettext's way: a missing entry shows the English). A value may be an object of
// CLDR plural forms ({one, few, many, other}) chosen by Intl.PluralRules for
// vars.n. "{name}" in a message is replaced by vars.name. Dates and numbers: Intl
// with I18N.locale (the browser's own tag in that language, e.g. "en-GB", else the
// language), each page naming the client's time zone beside its times.
//
// Static text: an element with `data-i18n` has its text replaced by the
// translation of its (whitespace-collapsed) English text; `data-i18n-attr="a b"`
// does the same for the named attributes. The page's other scripts are named in
// this script's `data-load` (space-separated) and loaded in order once the
// catalogue is in, so each of them can call window.I18N.t() as it starts.
//
// Switching (the #language select) keeps the choice, runs the hooks pages
// registered with I18N.onSwitch (the dashboard sends the client's language to
// auth so e-mails follow it) and reloads the page in the new language.
"use strict";
(function () {
  const LANGUAGES = ["en", "ru"];
  const STORE = "cachalot.language";
  const ACCOUNT = "cachalot.language.account";
  const script = document.currentScript;

  function stored(key = STORE) {
    try {
      const value = localStorage.getItem(key);
      return LANGUAGES.includes(value) ? value : null;
    } catch (err) {
      return null; // storage switched off: the browser's language each time
    }
  }

  function fromBrowser() {
    const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
    for (const tag of wanted) {
      const base = String(tag).toLowerCase().split("-")[0];
      if (LANGUAGES.includes(base)) return base;
    }
    return "en";
  }

  const explicit = stored();
  const lang = explicit || stored(ACCOUNT) || fromBrowser();
  document.documentElement.lang = lang;
  // For Intl: the browser's own tag when it is in this language ("en-GB" keeps its
  // day-month order), else the language alone.
  const locale = (navigator.languages || []).find((tag) => String(tag).toLowerCase().split("-")[0] === lang) || lang;
  let messages = {};
  const plurals = new Intl.PluralRules(locale);
  const hooks = [];

  function t(key, vars) {
    let text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    if (text && typeof text === "object") {
      const n = vars && typeof vars.n === "number" ? vars.n : 0;
      text = text[plurals.select(n)] || text.other;
    }
    if (!vars) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) =>
      Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole);
  }

  const collapse = (text) => text.replace(/\s+/g, " ").trim();

  function translate(root) {
    for (const el of root.querySelectorAll("[data-i18n]")) {
      if (!el.dataset.i18nKey) el.dataset.i18nKey = collapse(el.textContent);
      el.textContent = t(el.dataset.i18nKey);
    }
    for (const el of root.querySelectorAll("[data-i18n-attr]")) {
      for (const name of el.dataset.i18nAttr.split(/\s+/).filter(Boolean)) {
        const keep = `data-i18n-was-${name}`;
        if (!el.hasAttribute(keep)) el.setAttribute(keep, el.getAttribute(name) || "");
        el.setAttribute(name, t(collapse(el.getAttribute(keep))));
      }
    }
  }

  const number = (value, options) => new Intl.NumberFormat(locale, options).format(value);
  // Counts and limits of what a person writes (the composer's counters, the refusals'
  // limits and counts): one format for both, digits ungrouped as the platforms' rules
  // write them ("2200"; session 8's rule, 178d31f2), decimals in the page's way ("0,5").
  const COUNT = new Intl.NumberFormat(locale, { useGrouping: false, maximumFractionDigits: 3 });
  const count = (value) => COUNT.format(value);

  async function choose(value) {
    if (!LANGUAGES.includes(value)) return;
    try { localStorage.setItem(STORE, value); } catch (err) { /* kept for this page only */ }
    for (const hook of hooks) {
      try { await hook(value); } catch (err) { /* the page still switches */ }
    }
    location.reload();
  }

  // The signed-in client's account language (GET /api/v1/me `language`): kept for
  // this browser's pages while no language was chosen here; the page reloads in it
  // when it differs. A choice made here wins. True when the page is reloading.
  function adopt(value) {
    if (explicit || !LANGUAGES.includes(value)) return false;
    try { localStorage.setItem(ACCOUNT, value); } catch (err) { return false; }
    if (value === lang || stored(ACCOUNT) !== value) return false; // kept, or not keepable
    location.reload();
    return true;
  }

  function wireSwitch() {
    const select = document.getElementById("language");
    if (!select) return;
    select.value = lang;
    select.addEventListener("change", () => choose(select.value));
  }

  function loadRest() {
    const rest = ((script && script.dataset.load) || "").split(/\s+/).filter(Boolean);
    for (const src of rest) {
      const tag = document.createElement("script");
      tag.src = src;
      tag.async = false; // in the order named, as plain <script> tags would run
      document.body.appendChild(tag);
    }
  }

  window.I18N = {
    lang,
    locale,
    explicit: explicit !== null,
    languages: LANGUAGES,
    t,
    translate,
    number,
    count,
    choose,
    adopt,
    onSwitch: (hook) => hooks.push(hook),
  };

  fetch(`/i18n/${lang}.json`, { credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : {}))
    .catch(() => ({}))
    .then((loaded) => {
      messages = loaded || {};
      translate(document);
      wireSwitch();
      loadRest();
    });
})();
