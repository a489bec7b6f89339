// A post's audit trail (issue 13 item 2), for the client's dashboard and the operator's
// page: "delivered by operator X", "proposed", "edited", "approved", "leased for",
// "published", each with its time, as an ordered list inside a <details> ("History"),
// read from the queue when opened. The entries come from GET .../posts/{id}/audit or a
// delivery's `audit` (cachalot_queue.deliveries.AuditPublic). Plain JS, no build; every
// text from the API goes in with textContent. The operator's page is not translated:
// there t() is the English key with its {placeholders} filled.
"use strict";
(function () {
  const fill = (key, vars) => String(key).replace(/\{(\w+)\}/g, (whole, name) =>
    vars && Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole);
  const I18N = window.I18N || { t: fill, locale: undefined };
  const t = I18N.t;
  const shown = window.cachalotShown || ((text) => String(text));
  const WHEN = new Intl.DateTimeFormat(I18N.locale, { dateStyle: "medium", timeStyle: "short" });
  const short = (id) => (id ? String(id).slice(0, 8) : "");
  // an operator by the Telegram name recorded with the act, else (older entries) an id prefix
  const operator = (entry) => entry.actor_name || short(entry.actor_id);

  // One entry in words; `viewer` is "client" (the client's own acts say "you") or "operator".
  function words(entry, viewer) {
    const mine = viewer === "client";
    const detail = entry.detail || {};
    const platform = detail.platform ? window.CachalotWords.platform(detail.platform) : "";
    switch (entry.action) {
      case "delivered":
        return t("Delivered by operator {who}", { who: operator(entry) });
      case "proposed":
        return t("Proposed by operator {who}", { who: operator(entry) });
      case "edited": {
        const changed = detail.changed || [];
        const texts = changed.includes("targets") && changed.includes("scheduled_at")
          ? t("texts and time") : changed.includes("scheduled_at") ? t("time") : t("texts");
        // a post's own edit may change its content (PATCH /api/v1/posts/{id})
        const what = !changed.includes("content") ? texts
          : changed.length === 1 ? t("content") : `${t("content")}, ${texts}`;
        return mine ? t("Edited by you ({what})", { what }) : t("Edited by the client ({what})", { what });
      }
      case "changes_requested":
        return mine
          ? t("Changes requested by you: “{comment}”", { comment: detail.comment || "" })
          : t("Changes requested by the client: “{comment}”", { comment: detail.comment || "" });
      case "approved": {
        const at = detail.scheduled_at ? WHEN.format(new Date(detail.scheduled_at)) : "";
        if (detail.late) { // approved after the suggested time: queued for the moment of approval
          const suggested = detail.suggested_at ? WHEN.format(new Date(detail.suggested_at)) : "";
          return mine
            ? t("Approved by you after the suggested time ({suggested}); queued for now ({at})", { suggested, at })
            : t("Approved by the client after the suggested time ({suggested}); queued for now ({at})", { suggested, at });
        }
        return mine
          ? t("Approved by you; queued for {at}", { at })
          : t("Approved by the client; queued for {at}", { at });
      }
      case "queued":
        return mine ? t("Queued by you") : t("Queued by the client");
      case "leased":
        return t("Leased for {platform} (attempt {attempt}): the publisher may use the account's token for this post",
          { platform, attempt: detail.attempt || 1 });
      case "published":
        return t("Published on {platform}", { platform });
      case "superseded":
        return t("Replaced by a newer proposal of operator {who}", { who: operator(entry) });
      case "failed":
        return t("Failed on {platform}: {reason}", { platform, reason: window.CachalotWords.reason(detail.code, detail.reason) });
      case "cancelled":
        return t("Cancelled for {platform}: {reason}", { platform, reason: window.CachalotWords.reason(detail.code, detail.reason) });
      case "unconfirmed":
        return t("Not confirmed on {platform}: look at the account to see whether it is there", { platform });
      default:
        return entry.action;
    }
  }

  // Fills `list` (an <ol>) with `entries`, oldest first.
  function render(list, entries, viewer) {
    list.textContent = "";
    for (const entry of entries) {
      const item = document.createElement("li");
      item.className = "trail-entry " + entry.action;
      item.dataset.action = entry.action;
      const time = document.createElement("time");
      time.dateTime = entry.at;
      time.textContent = WHEN.format(new Date(entry.at));
      item.append(time, " — ", shown(words(entry, viewer)));
      const link = entry.detail && entry.detail.remote_url;
      if (entry.action === "published" && /^https:\/\//.test(link || "")) {
        const a = document.createElement("a");
        a.href = link;
        a.target = "_blank";
        a.rel = "noopener";
        a.textContent = t("open");
        item.append(" ", a);
      }
      list.appendChild(item);
    }
    if (!entries.length) {
      const item = document.createElement("li");
      item.textContent = t("Nothing recorded yet.");
      list.appendChild(item);
    }
  }

  // A <details> "History" whose list is read by `load()` (→ entries, or null when it
  // could not be read) each time it is opened. `label` names what it is the history of.
  function details({ load, viewer, label }) {
    const box = document.createElement("details");
    box.className = "trail";
    const summary = document.createElement("summary");
    summary.textContent = t("History");
    if (label) summary.setAttribute("aria-label", label);
    const list = document.createElement("ol");
    list.className = "trail-list";
    list.setAttribute("aria-label", label || t("History"));
    list.setAttribute("aria-live", "polite");
    box.append(summary, list);
    box.addEventListener("toggle", async () => {
      if (!box.open) return;
      list.setAttribute("aria-busy", "true");
      const entries = await load();
      list.removeAttribute("aria-busy");
      if (entries) render(list, entries, viewer);
      else {
        list.textContent = "";
        const item = document.createElement("li");
        item.textContent = t("The history could not be read; close and open it again.");
        list.appendChild(item);
      }
    });
    return box;
  }

  // The entries of one proposal from its delivery's trail: the delivery's own and the proposal's.
  function ofProposal(delivery, proposal) {
    return (delivery.audit || []).filter((e) => !e.proposal_id || e.proposal_id === proposal.id);
  }

  // Reads a post's trail from `url` (GET .../posts/{id}/audit).
  async function read(url) {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) return null;
      return (await response.json()).items;
    } catch (e) {
      return null;
    }
  }

  // Where an approved proposal's post stands, per target ("TikTok: failed"), from the
  // proposal's post_targets (GET .../proposals, .../deliveries); "" before approval.
  // `label(platform)`: the page's name for a platform; statuses in words.js's words.
  function standing(proposal, label) {
    return (proposal.post_targets || [])
      .map((s) => `${label(s.platform)}: ${window.CachalotWords.status(s.status)}`)
      .join(", ");
  }

  // A list whose rows a live update writes anew (the operator's deliveries and posts in
  // trouble, the client's proposals): a live update never closes what the person opened
  // nor loses their place (issue 12). Call it before emptying `body`, whose rows are named
  // by their data-`key` attribute; the function it returns, once the new rows are in,
  // opens each History that was open in the same row (showing what it showed until it is
  // read again) and puts the keyboard back on the control of the same name in the same
  // row, else on that row's first cell.
  function keepPlace(body, key) {
    const rowOf = (el) => el.closest(`tr[data-${key}]`);
    const rowIn = (id) => body.querySelector(`tr[data-${key}="${CSS.escape(id)}"]`);
    const name = (el) => el.getAttribute("aria-label") || el.textContent;
    const opened = [...body.querySelectorAll("details[open]")].filter(rowOf).map((box) => ({
      id: rowOf(box).dataset[key],
      summary: name(box.querySelector("summary")),
      shown: [...box.querySelectorAll(":scope > ol > *")],
    }));
    const active = document.activeElement;
    const from = active && body.contains(active) ? rowOf(active) : null;
    const focus = from ? { id: from.dataset[key], name: name(active) } : null;
    return () => {
      for (const was of opened) {
        const row = rowIn(was.id);
        const box = row && [...row.querySelectorAll("details")]
          .find((d) => name(d.querySelector("summary")) === was.summary);
        if (!box || box.open) continue;
        const list = box.querySelector(":scope > ol");
        if (list) list.replaceChildren(...was.shown);
        box.open = true; // its toggle reads it again
      }
      if (!focus || active.isConnected) return;
      const row = rowIn(focus.id);
      if (!row) return;
      const same = [...row.querySelectorAll("button,summary,a,input,select,textarea")]
        .find((el) => name(el) === focus.name);
      const place = same || row.firstElementChild;
      if (!same) place.tabIndex = -1;
      place.focus();
    };
  }

  window.CachalotTrail = { details, render, ofProposal, read, words, standing, keepPlace };
})();
