// The client's proposals (issue 13 item 2): what an operator delivered into the
// client's library with how and when to post it. Approve (queues the post, as the
// client's own act) or ask for changes with a comment. Plain JS, no build; every
// text from the API goes in with textContent (never HTML).
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const shown = window.cachalotShown || ((text) => String(text));
  const { t } = window.I18N; // web/i18n.js
  const when = (iso) => window.CachalotWhen.text(iso); // web/when.js, as every table
  // a request for changes' comment, in code points (queue ChangesRequest.comment)
  const COMMENT_MAX = 2000;
  const STATUS = {
    proposed: t("proposed"), changes_requested: t("changes requested"), approved: t("approved"),
    superseded: t("superseded"),
  };

  async function api(path, options = {}) {
    const response = await fetch(path, { credentials: "same-origin", ...options });
    let body = null;
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) body = await response.json().catch(() => null);
    return { status: response.status, ok: response.ok, body };
  }

  function say(kind, text) {
    const el = $("flash");
    el.className = "notice " + kind;
    el.textContent = shown(text);
  }

  // the server's problem in the page's language (web/words.js)
  const problemText = (body, fallback) => window.CachalotWords.problem(body, fallback);

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = shown(text);
    row.appendChild(td);
    return td;
  }

  let accountsById = new Map();
  let catalogue = null; // platform name → its registry entry (GET /api/v1/posts/platforms), once

  // "What": the kind, note, picture and an article's start (web/choices.js, as the operator's).
  const thumbnail = (id) => `/api/v1/media/${encodeURIComponent(id)}/thumbnail`;
  const describeWhat = (td, delivery) => window.CachalotChoices.what(td, delivery, thumbnail);

  // "Where and text": each target's account, texts and every option chosen for it in words
  // (web/choices.js, the composer's words and the operator's table's).
  const describeTargets = (td, targets, kind) =>
    window.CachalotChoices.targets(td, targets, kind, { accounts: accountsById, catalogue });

  function button(label, cls, onClick) {
    const el = document.createElement("button");
    el.type = "button";
    el.className = cls;
    el.textContent = label;
    el.addEventListener("click", onClick);
    return el;
  }

  // The suggested time has passed: approving queues the post for now (the server's rule,
  // cachalot_queue.deliveries approve), said before the click and after it.
  function late(proposal) {
    return Boolean(proposal.scheduled_at) && new Date(proposal.scheduled_at) < new Date();
  }

  async function approve(proposal) {
    const wasLate = late(proposal);
    const answer = await api(`/api/v1/posts/proposals/${proposal.id}/approve`, { method: "POST" });
    if (answer.ok && wasLate) say("ok", t("Approved: the suggested time had passed, so the post is queued to publish now."));
    else if (answer.ok) say("ok", t("Approved: the post is queued."));
    else say("bad", problemText(answer.body, t("The approval failed.")));
    await load();
  }

  async function requestChanges(proposal, input) {
    const comment = input.value.trim();
    if (!comment) {
      input.focus();
      say("bad", t("Say what should change."));
      return;
    }
    const long = window.CachalotLengths.over(comment, COMMENT_MAX);
    if (long) {
      input.focus();
      input.setAttribute("aria-invalid", "true");
      say("bad", long);
      return;
    }
    const answer = await api(`/api/v1/posts/proposals/${proposal.id}/request-changes`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ comment }),
    });
    if (answer.ok) {
      input.value = ""; // sent: not kept for the list read again
      say("ok", t("Sent back to our team with your comment."));
    } else say("bad", problemText(answer.body, t("The request failed.")));
    await load();
  }

  // "Edit": the proposal's texts per target and its time in the dashboard's edit dialog,
  // checked as the composer checks (app.js openProposalEditor).
  function edit(delivery, proposal) {
    window.CachalotDashboard.openProposalEditor(delivery, proposal, async () => {
      say("ok", t("Changes saved."));
      await load();
    });
  }

  const LABELS = [t("Proposed"), t("What"), t("Where and text"), t("Suggested time"), t("Status"), t("Actions")];

  const reads = window.CachalotLive.inOrder(); // a late answer never puts back older proposals
  async function load() {
    const read = reads.sent();
    const [answer, accounts, platforms] = await Promise.all([
      api("/api/v1/posts/proposals"), api("/api/v1/accounts"), catalogue ? null : api("/api/v1/posts/platforms"),
    ]);
    if (!reads.drawable(read)) return;
    if (platforms && platforms.ok) catalogue = Object.fromEntries(platforms.body.items.map((p) => [p.name, p]));
    const listed = accounts.ok ? (Array.isArray(accounts.body) ? accounts.body : (accounts.body && accounts.body.items) || []) : [];
    accountsById = new Map(listed.map((a) => [a.id, a]));
    const section = $("proposals");
    if (!answer.ok || !answer.body.items.length) {
      section.classList.add("hidden");
      return;
    }
    section.classList.remove("hidden");
    const body = $("proposals-body");
    const kept = keepTyped(body);
    body.textContent = "";
    for (const delivery of answer.body.items) {
      for (const proposal of delivery.proposals) {
        const row = document.createElement("tr");
        row.dataset.proposal = proposal.id;
        row.className = "proposal " + proposal.status;
        cell(row, when(proposal.created_at)).className = "proposed-at"; // its own time
        describeWhat(cell(row, ""), delivery);
        describeTargets(cell(row, ""), proposal.targets, delivery.kind);
        const time = cell(row, proposal.scheduled_at ? when(proposal.scheduled_at) : t("when approved"));
        if (late(proposal) && proposal.status !== "approved" && proposal.status !== "superseded") {
          const passed = document.createElement("div");
          passed.className = "late-warning";
          passed.textContent = t("This time has passed: Approve publishes it now, or Edit to pick another time.");
          time.appendChild(passed);
        }
        const status = cell(row, STATUS[proposal.status] || proposal.status);
        status.className = "status";
        if (proposal.comment) {
          const said = document.createElement("div");
          said.className = "muted comment-sent";
          said.textContent = shown(t("Your comment: {comment}", { comment: proposal.comment }));
          status.appendChild(said);
        }
        const actions = cell(row, "");
        // approved, or superseded by the operator's answer to a request for changes: closed
        if (proposal.status !== "approved" && proposal.status !== "superseded") {
          const input = document.createElement("input");
          input.type = "text";
          input.placeholder = t("What should change?");
          input.className = "comment";
          input.setAttribute("aria-label", t("What should change?"));
          const editButton = button(t("Edit"), "secondary edit", () => edit(delivery, proposal));
          editButton.setAttribute("aria-label", t("Edit this proposal's texts and time"));
          actions.appendChild(editButton);
          actions.appendChild(button(t("Approve"), "approve", () => approve(proposal)));
          // a form: Enter in the comment sends it
          const form = document.createElement("form");
          form.className = "changes";
          form.noValidate = true;
          const send = button(t("Request changes"), "secondary request-changes", () => {});
          send.type = "submit";
          form.append(input, send);
          form.addEventListener("submit", (event) => {
            event.preventDefault();
            requestChanges(proposal, input);
          });
          actions.appendChild(form);
        } else if (proposal.post_id) {
          // where the post stands now (failed, published…), not only that it was queued
          const standing = window.CachalotTrail.standing(proposal, window.CachalotWords.platform);
          actions.textContent = shown(standing || t("queued"));
          actions.className = "post-standing";
        }
        // the history: the delivery's and this proposal's steps; once approved, the post's
        const url = proposal.post_id ? `/api/v1/posts/${proposal.post_id}/audit` : null;
        actions.appendChild(window.CachalotTrail.details({
          viewer: "client",
          label: t("History of this proposal"),
          load: async () => {
            if (!url) return window.CachalotTrail.ofProposal(delivery, proposal);
            return window.CachalotTrail.read(url);
          },
        }));
        [...row.children].forEach((td, i) => { td.dataset.label = LABELS[i]; });
        body.appendChild(row);
      }
    }
    kept();
  }

  // The list is read again on every proposal event (live.js, app.js): what the person was
  // typing (a comment for each proposal still open) and where the keyboard was (the
  // comment with its caret, or a button) come back in the new rows, so an operator's act
  // elsewhere never wipes a comment half written nor closes a history. Returns what puts them back.
  function keepTyped(body) {
    const comments = new Map([...body.querySelectorAll("tr[data-proposal] input.comment")]
      .filter((input) => input.value)
      .map((input) => [input.closest("tr").dataset.proposal, input.value]));
    const place = window.CachalotTrail.keepPlace(body, "proposal"); // an open history stays open
    const active = document.activeElement;
    const row = active && body.contains(active) ? active.closest("tr[data-proposal]") : null;
    const focus = row && active.classList[0]
      ? { id: row.dataset.proposal, cls: active.classList[active.classList.length - 1],
          tag: active.tagName.toLowerCase(), start: active.selectionStart, end: active.selectionEnd }
      : null;
    return () => {
      for (const [id, value] of comments) {
        const input = body.querySelector(`tr[data-proposal="${CSS.escape(id)}"] input.comment`);
        if (input) input.value = value;
      }
      place();
      if (!focus) return;
      const again = body.querySelector(
        `tr[data-proposal="${CSS.escape(focus.id)}"] ${focus.tag}.${CSS.escape(focus.cls)}`);
      if (!again) return;
      again.focus();
      if (focus.tag === "input" && focus.start !== null) again.setSelectionRange(focus.start, focus.end);
    };
  }

  window.CachalotProposals = { load };
  // Read once the client is known to be signed in (app.js shows "Your posts" after
  // GET /api/v1/me answered 200): a signed-out page asks nothing but /me.
  const posted = $("posts");
  let loaded = false;
  const follow = () => {
    const on = !posted.classList.contains("hidden");
    if (on && !loaded) load();
    if (!on) $("proposals").classList.add("hidden");
    loaded = on;
  };
  new MutationObserver(follow).observe(posted, { attributes: true, attributeFilter: ["class"] });
  follow();
})();
