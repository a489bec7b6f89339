// Date and time fields in the page's language, with the client's time zone named (issue 12
// item 7). A browser's own picker (<input type="datetime-local">) follows the browser's
// language, not the page's, and names no zone; so each such field gets separate selects —
// day, month (its name in the page's language), year, hour, minute — in the language's
// order (Intl.DateTimeFormat's parts for I18N.locale: "22 ноября 2026", "November 22, 2026"),
// hours as the language writes them ("1 PM", "13"), and the zone's name beside them.
//
// The datetime-local input stays in the form as the field's value ("YYYY-MM-DDTHH:MM" in
// the browser's zone, what the pages already read and send): it is hidden from people and
// from the keyboard, each choice writes it, and a value put in it (by a page, or typed
// there by a test) is shown in the selects. A form's reset clears both.
//
// CachalotWhen.upgrade(input) once per field; CachalotWhen.show(input) after a page set
// input.value; CachalotWhen.problem(input): words when the parts chosen make no time yet
// (some but not all, or a day the month does not have), else "";
// CachalotWhen.focus(input): the first select; CachalotWhen.zone: the zone's name.
// CachalotWhen.text(iso): a time as every table shows it (the page's language, the
// browser's zone, to the minute: "1 Dec 2026, 21:36"), the zone named beside the table.
"use strict";
(function () {
  const { t, locale } = window.I18N;
  const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const PARTS = ["day", "month", "year", "hour", "minute"];
  const pad = (n) => String(n).padStart(2, "0");
  const utc = (...args) => new Date(Date.UTC(...args));
  const MONTHS = Array.from({ length: 12 }, (_, m) =>
    new Intl.DateTimeFormat(locale, { month: "long", timeZone: "UTC" }).format(utc(2026, m, 15)));
  // the language's order of day, month and year
  const ORDER = new Intl.DateTimeFormat(locale, { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" })
    .formatToParts(utc(2026, 10, 22)).map((p) => p.type).filter((type) => PARTS.includes(type));
  const HOUR = new Intl.DateTimeFormat(locale, { hour: "numeric", timeZone: "UTC" });
  const number = (n, digits) => new Intl.NumberFormat(locale, { minimumIntegerDigits: digits, useGrouping: false }).format(n);
  const NAMES = { day: t("Day"), month: t("Month"), year: t("Year"), hour: t("Hour"), minute: t("Minute") };
  const fields = new WeakMap(); // input → {selects, group}
  let sequence = 0;

  function option(value, text) {
    const node = document.createElement("option");
    node.value = String(value);
    node.textContent = text;
    return node;
  }

  function choices(part) {
    const year = new Date().getFullYear();
    switch (part) {
      case "day": return Array.from({ length: 31 }, (_, i) => option(i + 1, number(i + 1, 1)));
      case "month": return MONTHS.map((name, i) => option(i + 1, name));
      case "year": return [year, year + 1, year + 2].map((y) => option(y, number(y, 1)));
      case "hour": return Array.from({ length: 24 }, (_, h) => option(h, HOUR.format(utc(2026, 0, 1, h))));
      default: return Array.from({ length: 60 }, (_, m) => option(m, number(m, 2)));
    }
  }

  // The parts of "YYYY-MM-DDTHH:MM", or null.
  function split(value) {
    const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
    if (!match) return null;
    const [year, month, day, hour, minute] = match.slice(1).map(Number);
    return { year, month, day, hour, minute };
  }

  // Shows the input's value in the selects (a year not offered is added).
  function show(input) {
    const field = fields.get(input);
    if (!field) return;
    const parts = split(input.value);
    for (const part of PARTS) {
      const select = field.selects[part];
      const value = parts ? String(parts[part]) : "";
      if (value && ![...select.options].some((o) => o.value === value)) {
        select.append(option(value, number(Number(value), 1)));
      }
      select.value = value;
    }
  }

  function chosen(field) {
    return Object.fromEntries(PARTS.map((part) => [part, field.selects[part].value]));
  }

  // The time the selects make, "YYYY-MM-DDTHH:MM", "" when none is chosen, null otherwise.
  function value(field) {
    const parts = chosen(field);
    const given = PARTS.filter((part) => parts[part] !== "");
    if (!given.length) return "";
    if (given.length < PARTS.length) return null;
    const [year, month, day] = [Number(parts.year), Number(parts.month), Number(parts.day)];
    if (utc(year, month - 1, day).getUTCMonth() !== month - 1) return null; // 31 April
    return `${year}-${pad(month)}-${pad(day)}T${pad(Number(parts.hour))}:${pad(Number(parts.minute))}`;
  }

  function problem(input) {
    const field = fields.get(input);
    if (!field || value(field) !== null) return "";
    const parts = chosen(field);
    if (PARTS.every((part) => parts[part] !== "")) return t("This day is not in that month.");
    return t("Choose the day, month, year, hour and minute.");
  }

  function upgrade(input) {
    if (!input || fields.has(input)) return;
    sequence += 1;
    const key = input.id || `when-${sequence}`;
    const group = document.createElement("span");
    group.className = "when-parts";
    group.setAttribute("role", "group");
    group.dataset.whenFor = key;
    const scope = input.form || input.parentNode || document; // found before it is shown too
    const label = input.id ? scope.querySelector(`label[for="${CSS.escape(input.id)}"]`) : null;
    if (label) {
      label.id = label.id || `${key}-label`;
      group.setAttribute("aria-labelledby", label.id);
    }
    const selects = {};
    for (const part of [...ORDER, "hour", "minute"]) {
      const select = document.createElement("select");
      select.id = `${key}-${part}`;
      select.dataset.part = part;
      select.setAttribute("aria-label", NAMES[part]);
      const empty = option("", "—");
      empty.defaultSelected = true;
      select.append(empty, ...choices(part));
      select.addEventListener("change", () => {
        const made = value(fields.get(input));
        input.value = made || "";
        input.dispatchEvent(new Event("input", { bubbles: true }));
      });
      selects[part] = select;
      if (part === "hour") group.append(document.createTextNode(" "));
      if (part === "minute") group.append(document.createTextNode(":"));
      group.append(select);
    }
    if (label) label.htmlFor = group.querySelector("select").id; // a click on the label: the first part
    const zone = document.createElement("span");
    zone.className = "when-zone muted";
    zone.textContent = ` ${t("({zone} time)", { zone: ZONE })}`;
    group.append(zone);
    input.after(group);
    input.classList.add("visually-hidden");
    input.tabIndex = -1;
    input.setAttribute("aria-hidden", "true");
    fields.set(input, { selects, group });
    input.addEventListener("input", (event) => { if (event.isTrusted) show(input); });
    input.addEventListener("change", () => show(input));
    const form = input.form;
    if (form) form.addEventListener("reset", () => setTimeout(() => show(input), 0));
    show(input);
  }

  function focus(input) {
    const field = fields.get(input);
    if (field) field.group.querySelector("select").focus();
    else input.focus();
  }

  const SHOWN = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone: ZONE });
  const text = (iso) => SHOWN.format(new Date(iso));

  window.CachalotWhen = { upgrade, show, problem, focus, text, zone: ZONE };
})();
