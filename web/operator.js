// The operator's page: Telegram sign-in, the clients, deliveries with proposals, posts in
// trouble, privacy-policy versions (publish one: every client with a connected account gets
// one e-mail), dead letters.
// Plain JS, no build. Every text from the API goes in with textContent (never HTML).
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  // The page's language (web/i18n.js): words from /i18n/<lang>.json, dates by Intl.
  const t = window.I18N.t;
  const when = (iso) => window.CachalotWhen.text(iso); // web/when.js, as every table
  // Invisible and bidirectional characters shown as codes (shown.js).
  const shown = window.cachalotShown;
  // Statuses, error codes and the server's problems in the page's language (words.js).
  const words = window.CachalotWords;
  const TOPICS = [
    "posts.result.v1", "accounts.v1", "posts.status.v1", "notify.v1", "sessions.v1",
    "contact.submitted.v1", "posts.publish.tiktok.v1", "posts.publish.youtube.v1",
    "posts.publish.instagram.v1", "posts.publish.vk.v1", "posts.publish.telegram.v1",
  ];
  const SIGN_IN_ERRORS = {
    sign_in_failed: t("Telegram's sign-in data could not be verified; please try again."),
    state_expired: t("The sign-in took too long; please try again."),
    not_an_operator: t("This Telegram account is not an operator here. To get access, ask the administrator of this CACHALOT to add your Telegram user id to the operators' list (CACHALOT_OPERATOR_TELEGRAM_IDS), then sign in again."),
  };

  function flash(kind, text) {
    const el = $("flash");
    el.className = "notice " + kind;
    el.textContent = shown(text);
  }

  async function api(path, options = {}) {
    const response = await fetch(path, { credentials: "same-origin", ...options });
    let body = null;
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) body = await response.json().catch(() => null);
    return { status: response.status, ok: response.ok, body };
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = shown(text);
    row.appendChild(td);
    return td;
  }

  // At phone width each row is a card whose cells stack, each with its column's name
  // (style.css: td[data-label]): the names of the row's table header, as shown now
  // (a column whose cell says what it is, such as History, is marked data-self-named).
  function labelCells(row, body) {
    const heads = body.closest("table").querySelectorAll("thead th");
    [...row.children].forEach((td, i) => {
      const head = heads[i];
      const name = head && !head.hasAttribute("data-self-named") ? head.textContent.trim() : "";
      if (name) td.dataset.label = name;
    });
  }

  function show(signedIn) {
    $("signin").classList.toggle("hidden", signedIn);
    for (const id of ["clients", "deliver", "trouble", "policy", "dlq"]) {
      $(id).classList.toggle("hidden", !signedIn);
    }
    $("logout").classList.toggle("hidden", !signedIn);
  }

  // The main text of each platform's block (the per-platform option models of posts).
  const TEXT_FIELD = {
    tiktok: "caption", youtube: "title", instagram: "caption", vk: "message", telegram: "caption",
  };
  let knownClients = [];

  const article = () => document.querySelector("input[name=deliver-kind]:checked").value === "article";

  // Each chosen account's own fields (the composer's way: texts per target): its text,
  // and for TikTok who can see it (web/choices.js words); empty: the shared ones above.
  // Rebuilt when the accounts chosen change, keeping what was typed for each account.
  function showTargetFields() {
    const box = $("deliver-targets");
    const typed = new Map([...box.querySelectorAll(".deliver-target")].map((el) => [el.dataset.account, {
      text: el.querySelector(".target-text").value,
      privacy: (el.querySelector(".target-privacy") || {}).value || "",
    }]));
    box.textContent = "";
    for (const option of $("deliver-account").selectedOptions) {
      const id = option.value;
      const item = document.createElement("div");
      item.className = "deliver-target";
      item.dataset.account = id;
      const label = document.createElement("label");
      label.htmlFor = `deliver-text-${id}`;
      label.textContent = t("Text for {account} (empty: the text above)", { account: option.textContent });
      const input = document.createElement("input");
      input.type = "text";
      input.id = label.htmlFor;
      input.className = "target-text";
      input.value = (typed.get(id) || {}).text || "";
      item.append(label, input);
      if (option.dataset.platform === "tiktok") {
        const who = document.createElement("label");
        who.htmlFor = `deliver-privacy-${id}`;
        who.textContent = t("Who can see it on TikTok, for {account} (empty: the choice above)", { account: option.textContent });
        const select = document.createElement("select");
        select.id = who.htmlFor;
        select.className = "target-privacy";
        select.append(new Option(t("Choose…"), ""));
        for (const [value, words] of Object.entries(window.CachalotChoices.TIKTOK_PRIVACY)) select.append(new Option(words, value));
        select.value = (typed.get(id) || {}).privacy || "";
        item.append(who, select);
      }
      box.appendChild(item);
    }
  }

  // A target's block: its main text (its own, else the shared one; none for an article
  // without one), and for TikTok the privacy the operator proposes (TikTok's Direct Post
  // rules: chosen, never defaulted; the server names it if left out).
  function options(account) {
    const own = document.querySelector(`#deliver-targets .deliver-target[data-account="${CSS.escape(account.value)}"]`);
    const platform = account.dataset.platform;
    const text = (own && own.querySelector(".target-text").value) || $("deliver-text").value;
    const block = text || !article() ? { [TEXT_FIELD[platform]]: text } : {};
    const privacy = (own && own.querySelector(".target-privacy") && own.querySelector(".target-privacy").value)
      || $("deliver-privacy").value;
    if (platform === "tiktok" && privacy) block.privacy_level = privacy;
    return block;
  }

  // The proposal being written: one target per chosen account, each with its own text.
  function currentProposal() {
    const accounts = Array.from($("deliver-account").selectedOptions);
    const at = $("deliver-at").value;
    return {
      targets: accounts.map((a) => ({ account_id: a.value, [a.dataset.platform]: options(a) })),
      scheduled_at: at ? new Date(at).toISOString() : null,
    };
  }

  // Proposals added with "Add another proposal", sent with the one being written.
  let pending = [];
  // "client|name|size|modified" → id of a file uploaded for a delivery not yet made
  const uploadedFiles = new Map();
  function showPending() {
    const list = $("deliver-pending");
    list.textContent = "";
    pending.forEach((proposal, i) => {
      const item = document.createElement("li");
      item.textContent = t("Proposal {i}, accounts: {count}", { i: i + 1, count: proposal.targets.length });
      list.appendChild(item);
    });
  }
  function addProposal() {
    clearFieldErrors();
    const proposal = currentProposal();
    if (!proposal.targets.length) {
      fieldError("account", t("Choose at least one account."));
      return;
    }
    pending.push(proposal);
    showPending();
    $("deliver-text").value = "";
    $("deliver-at").value = "";
    $("deliver-targets").textContent = "";
    showTargetFields();
  }

  // The delivery form's fields: each error box (data-field) and the input it is under.
  const FORM_FIELDS = {
    text: "deliver-text", privacy: "deliver-privacy", scheduled_at: "deliver-at",
    note: "deliver-note", file: "deliver-file", client_id: "deliver-client",
    account: "deliver-account", "article.title": "deliver-title", "article.body_html": "deliver-body",
  };
  // The one map from the API's field names to those fields, by a path's last name
  // (proposals[i].targets[j].<platform>.<option>, media_id, image_ids[k], ...).
  const API_FIELDS = {
    caption: "text", title: "text", message: "text", text: "text", description: "text",
    photo_title: "text", privacy_level: "privacy", disable_comment: "privacy",
    disable_duet: "privacy", disable_stitch: "privacy", scheduled_at: "scheduled_at",
    note: "note", media_id: "file", image_ids: "file", file: "file", client_id: "client_id",
    account_id: "account", targets: "account",
  };
  // The form field an API path names (a target's media, e.g. targets[i].media.duration_sec,
  // is the file); null when none.
  function formField(path) {
    const parts = String(path || "").split(".");
    if (parts.includes("media") || parts.includes("cover")) return "file";
    if (parts[0] === "article") return parts[1] === "cover_media_id" ? "file" : `article.${parts[1]}`;
    return API_FIELDS[parts.pop().replace(/\[\d+\]$/, "")] || null;
  }
  // Where each server error goes (another of a target: under the accounts; else the file).
  const errorField = (path) => formField(path) || (/targets/.test(path) ? "account" : "file");
  function fieldError(field, message) {
    const box = document.querySelector(`#deliver-form .field-error[data-field="${field}"]`);
    if (!box) return;
    box.textContent = box.textContent ? `${box.textContent} ${shown(message)}` : shown(message);
  }
  function clearFieldErrors() {
    for (const box of document.querySelectorAll("#deliver-form .field-error")) box.textContent = "";
  }

  // A client as the operator knows it: auth's label (its e-mail, else its first account's
  // name), the words the operator's Telegram messages use too; never its id.
  function clientLabel(client) {
    // auth's words for a client with neither (cachalot_auth.operators.UNNAMED_CLIENT), translated
    return client.email || client.name ? client.label : t("a client with no e-mail or account name");
  }
  function clientLabelOf(clientId) {
    const client = knownClients.find((c) => c.client_id === clientId);
    // not listed: new since the list was read (the live feed reads it again), or erased
    return client ? clientLabel(client) : t("a client not in the list of clients");
  }

  function fillDeliverClients() {
    const select = $("deliver-client");
    const chosen = select.value;
    select.textContent = "";
    for (const client of knownClients) {
      const option = document.createElement("option");
      option.value = client.client_id;
      option.textContent = shown(clientLabel(client));
      select.appendChild(option);
    }
    if (chosen) select.value = chosen;
    fillDeliverAccounts();
  }

  function fillDeliverAccounts() {
    const client = knownClients.find((c) => c.client_id === $("deliver-client").value);
    const select = $("deliver-account");
    select.textContent = "";
    for (const account of (client && client.accounts) || []) {
      if (account.status !== "ok") continue; // auth: ok, reauth_required or revoked
      const option = document.createElement("option");
      option.value = account.id;
      option.dataset.platform = account.platform;
      option.textContent = shown(`${account.platform}: ${account.display_name || account.id}`);
      select.appendChild(option);
    }
    if (select.options.length) select.options[0].selected = true; // one or more: the first to start
    showTargetFields();
  }

  // TikTok's Direct Post rule: who can see the post is chosen, never defaulted. Required
  // while any TikTok account is chosen, so the browser's own check stops the form before
  // anything is uploaded (as the composer checks before its uploads); set again on the
  // send button's click, which comes before the form's check. A TikTok account with its
  // own choice below needs none above, an account with its own text no shared one. An
  // article needs no file (its cover is optional) and no text (its title and body are).
  function requirePrivacy() {
    const chosen = Array.from($("deliver-account").selectedOptions);
    const own = (a, cls) => {
      const field = document.querySelector(`#deliver-targets .deliver-target[data-account="${CSS.escape(a.value)}"] .${cls}`);
      return Boolean(field && field.value);
    };
    $("deliver-privacy").required = chosen.some((a) => a.dataset.platform === "tiktok" && !own(a, "target-privacy"));
    $("deliver-file").required = !article();
    $("deliver-text").required = !article() && chosen.some((a) => !own(a, "target-text"));
    $("deliver-title").required = $("deliver-body").required = article();
  }

  // The kind chosen: an article's title, body and optional cover, or a video or images.
  function showKind() {
    const writing = article();
    $("deliver-article").classList.toggle("hidden", !writing);
    $("deliver-file-label").classList.toggle("hidden", writing);
    $("deliver-cover-label").classList.toggle("hidden", !writing);
    $("deliver-file").multiple = !writing;
    $("deliver-file").accept = writing ? "image/jpeg,image/png" : "video/mp4,video/quicktime,video/webm,image/jpeg,image/png";
    requirePrivacy();
  }

  // The delivery form's label of a field the API names
  // (proposals[0].targets[0].tiktok.privacy_level → "Who can see it on TikTok …").
  function deliverLabel(field) {
    const id = FORM_FIELDS[formField(field)];
    // (a time's label is its group's: web/when.js gives it the id "<input id>-label")
    const label = id && (document.getElementById(`${id}-label`) || document.querySelector(`label[for="${id}"]`));
    return label ? label.textContent.trim() : "";
  }

  async function deliver(event) {
    event.preventDefault();
    clearFieldErrors();
    const files = Array.from($("deliver-file").files);
    const clientId = $("deliver-client").value;
    const current = currentProposal();
    const proposals = current.targets.length ? [...pending, current] : [...pending];
    const writing = article();
    if ((!files.length && !writing) || !clientId) return;
    const videos = files.filter((f) => f.type.startsWith("video/"));
    if (videos.length && (files.length > 1 || writing)) {
      fieldError("file", writing ? t("An article's cover is one image.") : t("Choose one video, or only images for a photo post."));
      return;
    }
    if (!proposals.length) {
      fieldError("account", t("Choose at least one account."));
      return;
    }
    const partial = window.CachalotWhen.problem($("deliver-at"));
    if (partial) { fieldError("scheduled_at", partial); return; }
    const note = $("deliver-note");
    const longNote = window.CachalotLengths.over(note.value, Number(note.dataset.maxChars));
    if (longNote) { fieldError("note", longNote); note.focus(); return; } // before any upload
    $("deliver-send").disabled = true;
    try {
      const ids = [];
      for (const file of files) { // in order: the photo post's images keep the order chosen
        // a refused delivery keeps its files in the client's library: the corrected one
        // names them again instead of uploading them twice
        const key = [clientId, file.name, file.size, file.lastModified].join("|");
        if (uploadedFiles.has(key)) { ids.push(uploadedFiles.get(key)); continue; }
        const uploaded = await api(
          `/api/v1/operator/media?client_id=${encodeURIComponent(clientId)}`,
          { method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file },
        );
        if (!uploaded.ok) {
          fieldError("file", `${file.name}: ${words.problem(uploaded.body, t("The upload failed."), deliverLabel)}`);
          flash("bad", t("The upload failed."));
          return;
        }
        uploadedFiles.set(key, uploaded.body.id);
        ids.push(uploaded.body.id);
      }
      const image = !videos.length;
      const body = {
        client_id: clientId,
        kind: writing ? "article" : image ? "photo" : "video",
        note: $("deliver-note").value || null,
        proposals,
      };
      if (writing) {
        body.article = { title: $("deliver-title").value, body_html: $("deliver-body").value };
        if (ids.length) body.article.cover_media_id = ids[0];
      } else if (image) body.image_ids = ids;
      else body.media_id = ids[0];
      const answer = await api("/api/v1/operator/deliveries", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (answer.ok) {
        uploadedFiles.clear();
        flash("ok", t("Delivered; the client has been offered the proposal."));
        $("deliver-form").reset();
        pending = [];
        showPending();
        fillDeliverAccounts();
        showKind();
      } else {
        // each error under the field it names (the proposal's number when there are several),
        // and all of them, worded, in the notice
        for (const error of (answer.body && answer.body.errors) || []) {
          const path = String(error.field || "");
          // a file gone meanwhile (deleted, swept): the next try uploads them again
          if (/^(media_id|image_ids|article\.cover_media_id)/.test(path)) uploadedFiles.clear();
          const which = /^proposals\[(\d+)\]/.exec(path);
          const prefix = which && proposals.length > 1 ? t("Proposal {n}:", { n: Number(which[1]) + 1 }) + " " : "";
          fieldError(errorField(path.replace(/^proposals\[\d+\]\./, "")), prefix + words.fieldError(error));
        }
        flash("bad", `${t("The delivery failed.")} ${words.problem(answer.body, "", deliverLabel)}`.trim());
      }
    } finally {
      $("deliver-send").disabled = false;
      await loadDeliveries();
    }
  }

  // The platforms' block schemas (GET /api/v1/operator/platforms, the client's catalogue),
  // read once: the words of every choice the platform's own table in choices.js lacks.
  let catalogue = {};
  async function loadCatalogue() {
    const answer = await api("/api/v1/operator/platforms");
    if (answer.ok) catalogue = Object.fromEntries(answer.body.items.map((p) => [p.name, p]));
  }
  // "Where and how": each target's account, its texts and every option chosen for it, in
  // the words the client reads before approving (web/choices.js, one piece for both pages).
  function targetsCell(td, targets, kind) {
    td.className = "targets";
    const accounts = new Map(knownClients.flatMap((c) => c.accounts || []).map((a) => [a.id, a]));
    window.CachalotChoices.targets(td, targets, kind, { accounts, catalogue });
  }

  // What the client changed in a proposal (its "edited" steps): which parts, when; the
  // texts and time shown beside are the proposal as it stands now.
  const CHANGED = { targets: t("texts and options"), scheduled_at: t("suggested time") };
  function editsOf(delivery, proposal) {
    return (delivery.audit || [])
      .filter((step) => step.action === "edited" && step.proposal_id === proposal.id)
      .map((step) => t("Edited by the client {when}: {what}", {
        when: when(step.at),
        what: ((step.detail && step.detail.changed) || []).map((c) => CHANGED[c] || c).join(", "),
      }));
  }

  // An approved proposal's post: its id's start and where it stands per target.
  function postCell(row, proposal) {
    const standing = window.CachalotTrail.standing(proposal, window.CachalotWords.platform);
    const id = proposal.post_id ? proposal.post_id.slice(0, 8) : "—";
    cell(row, standing ? `${id} — ${standing}` : id).className = "post-standing";
  }

  // Overlapping reads of one table (a burst of live events, radios clicked quickly): an
  // older answer arriving late never puts the table back in an older state (web/live.js
  // inOrder). `cachalot:read-done` (detail: the table) follows each answer, drawn or dropped.
  const reads = {};
  function startRead(table) {
    const order = (reads[table] = reads[table] || window.CachalotLive.inOrder());
    const mine = order.sent();
    return () => order.drawable(mine);
  }
  function readDone(table) {
    document.dispatchEvent(new CustomEvent("cachalot:read-done", { detail: table }));
  }

  async function loadDeliveries() {
    const latest = startRead("deliveries");
    const answer = await api("/api/v1/operator/deliveries");
    if (!latest()) return readDone("deliveries");
    const body = $("deliveries-body");
    const putBack = window.CachalotTrail.keepPlace(body, "proposal"); // a live update's rebuild
    body.textContent = "";
    for (const delivery of (answer.ok && answer.body.items) || []) {
      for (const proposal of delivery.proposals) {
        const row = document.createElement("tr");
        row.dataset.proposal = proposal.id;
        row.className = "proposal " + proposal.status;
        // when it was proposed (its own time) and who delivered: the Telegram name
        // recorded at the time (older deliveries: none)
        const at = cell(row, "");
        const time = document.createElement("span");
        time.className = "proposed-at";
        time.textContent = when(proposal.created_at);
        at.appendChild(time);
        if (delivery.operator_name) at.append(" ", t("by {who}", { who: shown(delivery.operator_name) }));
        cell(row, shown(clientLabelOf(delivery.client_id)));
        cell(row, words.status(proposal.status)).className = "status";
        const what = cell(row, "");
        what.className = "what";
        window.CachalotChoices.what(what, delivery, null); // kind, note, an article's start
        targetsCell(cell(row, ""), proposal.targets, delivery.kind);
        cell(row, proposal.scheduled_at ? when(proposal.scheduled_at) : t("when approved")).className = "suggested-at";
        // the client's comment, then what the client edited (each its own line)
        const said = cell(row, "");
        said.className = "said";
        const comment = document.createElement("div");
        comment.className = "comment";
        comment.textContent = shown(proposal.comment || "—");
        said.appendChild(comment);
        for (const edit of editsOf(delivery, proposal)) {
          const el = document.createElement("div");
          el.className = "muted client-edit";
          el.textContent = shown(edit);
          said.appendChild(el);
        }
        postCell(row, proposal);
        // the trail: the delivery's and this proposal's steps; once approved, the post's
        cell(row, "").appendChild(window.CachalotTrail.details({
          viewer: "operator",
          label: t("History of this proposal"),
          load: async () => (proposal.post_id
            ? window.CachalotTrail.read(`/api/v1/operator/posts/${proposal.post_id}/audit`)
            : window.CachalotTrail.ofProposal(delivery, proposal)),
        }));
        labelCells(row, body);
        body.appendChild(row);
      }
    }
    putBack();
    readDone("deliveries");
  }

  async function loadClients() {
    const latest = startRead("clients");
    const [clients, summary] = await Promise.all([
      api("/api/v1/operator/clients"),
      api("/api/v1/operator/posts/summary"),
    ]);
    if (!latest()) return readDone("clients");
    const counts = {};
    for (const item of (summary.ok && summary.body.items) || []) counts[item.client_id] = item;
    knownClients = (clients.ok && clients.body.items) || [];
    fillDeliverClients();
    const body = $("clients-body");
    body.textContent = "";
    for (const client of (clients.ok && clients.body.items) || []) {
      const row = document.createElement("tr");
      row.dataset.client = client.client_id;
      cell(row, shown(client.name || "—"));
      cell(row, client.email || "—");
      cell(row, client.accounts.map((a) => `${a.platform} (${words.status(a.status)})`).join(", ") || "—");
      const mine = counts[client.client_id] || { posts: 0, targets: {} };
      cell(row, mine.posts);
      cell(row, Object.entries(mine.targets)
        .map(([s, n]) => `${words.status(s)}: ${window.I18N.number(n)}`).join(", ") || "—");
      labelCells(row, body);
      body.appendChild(row);
    }
    readDone("clients");
  }

  async function loadTrouble() {
    const latest = startRead("trouble");
    const status = document.querySelector("input[name=trouble]:checked").value;
    const answer = await api(`/api/v1/operator/posts?status=${encodeURIComponent(status)}`);
    if (!latest()) return readDone("trouble");
    const body = $("trouble-body");
    const putBack = window.CachalotTrail.keepPlace(body, "post"); // a live update's rebuild
    body.textContent = "";
    for (const item of (answer.ok && answer.body.items) || []) {
      const row = document.createElement("tr");
      row.dataset.post = item.post_id;
      row.className = "trouble " + item.status;
      cell(row, item.post_id.slice(0, 8));
      cell(row, shown(clientLabelOf(item.client_id)));
      cell(row, item.platform);
      cell(row, words.status(item.status));
      cell(row, words.reason(item.code, item.reason) || "—").className = "reason";
      const trace = cell(row, "");
      if (item.trace_url) {
        const link = document.createElement("a");
        link.href = item.trace_url;
        link.target = "_blank";
        link.rel = "noopener";
        link.className = "trace";
        link.textContent = t("trace");
        trace.appendChild(link);
      } else {
        trace.textContent = item.trace_id ? item.trace_id.slice(0, 12) : "—";
      }
      cell(row, "").appendChild(window.CachalotTrail.details({
        viewer: "operator",
        label: t("History of this post"),
        load: () => window.CachalotTrail.read(`/api/v1/operator/posts/${item.post_id}/audit`),
      }));
      labelCells(row, body);
      body.appendChild(row);
    }
    putBack();
    readDone("trouble");
  }

  async function loadDlq() {
    const latest = startRead("dlq");
    const topic = $("dlq-topic").value;
    const answer = await api(`/api/v1/operator/dlq?topic=${encodeURIComponent(topic)}`);
    if (!latest()) return readDone("dlq");
    const body = $("dlq-body");
    body.textContent = "";
    if (!answer.ok) {
      flash("bad", words.problem(answer.body, t("The dead letters could not be read.")));
      return;
    }
    for (const item of answer.body.items) {
      const row = document.createElement("tr");
      cell(row, `${item.partition}/${item.offset}`);
      cell(row, item.key);
      cell(row, item.reason);
      cell(row, item.value.slice(0, 200));
      const action = cell(row, "");
      if (item.redriven_by) {
        action.textContent = t("re-driven");
      } else {
        const button = document.createElement("button");
        button.className = "secondary redrive";
        button.textContent = t("Re-drive");
        button.addEventListener("click", () => redrive(topic, item));
        action.appendChild(button);
      }
      labelCells(row, body);
      body.appendChild(row);
    }
    readDone("dlq");
  }

  async function redrive(topic, item) {
    const answer = await api("/api/v1/operator/dlq/redrive", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ topic, partition: item.partition, offset: item.offset }),
    });
    if (answer.ok) flash("ok", t("Sent back to {topic}.", { topic: answer.body.topic }));
    else flash("bad", words.problem(answer.body, t("The re-drive failed.")));
    await loadDlq();
  }

  // What became of each version's e-mails: the notifier's records (GET
  // /api/v1/operator/policy-deliveries); auth's `recipients` is how many were requested.
  async function loadPolicyVersions() {
    const [answer, mailed] = await Promise.all([
      api("/api/v1/operator/policy-versions"),
      api("/api/v1/operator/policy-deliveries"),
    ]);
    const outcome = {};
    for (const item of (mailed.ok && mailed.body.items) || []) outcome[item.version] = item;
    const body = $("policy-body");
    body.textContent = "";
    for (const item of (answer.ok && answer.body.items) || []) {
      const row = document.createElement("tr");
      row.dataset.version = item.version;
      const version = cell(row, "");
      if (item.url) {
        const link = document.createElement("a");
        link.href = item.url;
        link.rel = "noopener";
        link.textContent = shown(item.version);
        version.appendChild(link);
      } else {
        version.textContent = shown(item.version);
      }
      cell(row, when(item.published_at));
      cell(row, item.summary || "—");
      cell(row, window.I18N.number(item.recipients)).className = "recipients";
      const done = outcome[item.version];
      if (mailed.ok) {
        const sent = done ? done.sent : 0;
        // not delivered: refused for good by the mail server, or no address any more
        const failed = done ? done.failed + done.skipped : 0;
        // requested but not finished yet: still in the notifier, or not reached it yet
        const waiting = Math.max(0, item.recipients - sent - failed);
        cell(row, window.I18N.number(sent)).className = "sent";
        cell(row, window.I18N.number(failed)).className = "failed";
        cell(row, window.I18N.number(waiting)).className = "waiting";
      } else {
        for (const name of ["sent", "failed", "waiting"]) cell(row, t("unknown")).className = name;
      }
      labelCells(row, body);
      body.appendChild(row);
    }
  }

  function policyErrors(errors) {
    for (const box of $("policy-form").querySelectorAll(".field-error")) box.textContent = "";
    for (const input of $("policy-form").querySelectorAll("input,textarea")) {
      input.removeAttribute("aria-invalid");
    }
    for (const error of errors) {
      const box = $("policy-form").querySelector(`.field-error[data-field="${error.field}"]`);
      const input = $(`policy-${error.field}`);
      if (box) box.textContent = shown(error.words || words.fieldError(error));
      if (input) input.setAttribute("aria-invalid", "true");
    }
  }

  async function publishPolicy(event) {
    event.preventDefault();
    const version = $("policy-version").value.trim();
    const summary = $("policy-summary").value.trim();
    const url = $("policy-url").value.trim();
    const problems = [];
    if (!version) problems.push({ field: "version", words: t("Give the version a name, e.g. 2026-12-01.") });
    else if (!$("policy-version").checkValidity()) {
      problems.push({ field: "version", words: t("Letters, digits, dots, dashes and underscores only.") });
    }
    if (url && !/^https?:\/\/[^\s/]+/.test(url)) {
      problems.push({ field: "url", words: t("Give a full link starting with https://.") });
    }
    // lengths as the service counts them (web/lengths.js), each field's own limit
    for (const [field, value] of [["version", version], ["summary", summary], ["url", url]]) {
      const long = window.CachalotLengths.over(value, Number($(`policy-${field}`).dataset.maxChars));
      if (long && !problems.some((p) => p.field === field)) problems.push({ field, words: long });
    }
    policyErrors(problems);
    if (problems.length) {
      $(`policy-${problems[0].field}`).focus();
      return;
    }
    const button = $("policy-publish");
    button.disabled = true;
    try {
      const answer = await api("/api/v1/operator/policy-versions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ version, summary: summary || null, url: url || null }),
      });
      if (answer.ok) {
        $("policy-form").reset();
        const n = answer.body.recipients;
        flash("ok", t("Version {version} published; {n} clients will get one e-mail each.", { version: answer.body.version, n }));
        await loadPolicyVersions();
        return;
      }
      const errors = ((answer.body && answer.body.errors) || []).map((e) => ({
        ...e,
        field: String(e.field || "").split(".").pop(),
      }));
      policyErrors(errors);
      if (answer.status === 409) {  // published meanwhile (another tab, another operator)
        flash("bad", t("Version {version} was published before; each version is announced once.", { version }));
        await loadPolicyVersions();
        return;
      }
      flash("bad", errors.length ? t("The version could not be published.")
        : words.problem(answer.body, t("The version could not be published.")));
    } finally {
      button.disabled = false;
    }
  }

  async function start() {
    const params = new URLSearchParams(location.search);
    const error = params.get("auth_error");
    if (error) {
      let text = SIGN_IN_ERRORS[error] || t("Sign-in failed; please try again.");
      // the query string is anyone's to write: only digits are shown as the id
      const id = params.get("telegram_user_id") || "";
      if (error === "not_an_operator" && /^\d{1,20}$/.test(id)) {
        text += " " + t("Your Telegram user id: {id}.", { id });
      }
      flash("bad", text);
    }
    const me = await api("/api/v1/operator/me");
    if (!me.ok) {
      show(false);
      if (me.status === 403) flash("bad", t("This browser is signed in as a client, not an operator."));
      return;
    }
    show(true);
    $("who").textContent = shown(me.body.display_name || me.body.telegram_user_id);
    for (const topic of TOPICS) {
      const option = document.createElement("option");
      option.value = option.textContent = topic;
      $("dlq-topic").appendChild(option);
    }
    $("dlq-topic").addEventListener("change", loadDlq);
    $("policy-form").addEventListener("submit", publishPolicy);
    $("deliver-client").addEventListener("change", fillDeliverAccounts);
    $("deliver-form").addEventListener("submit", deliver);
    $("deliver-another").addEventListener("click", addProposal);
    window.CachalotWhen.upgrade($("deliver-at")); // the suggested time in the page's language
    $("deliveries-zone").textContent = t("Times are in your time zone, {zone}.", { zone: window.CachalotWhen.zone });
    $("deliver-send").addEventListener("click", requirePrivacy);
    $("deliver-form").addEventListener("change", requirePrivacy);
    $("deliver-account").addEventListener("change", showTargetFields);
    for (const radio of document.querySelectorAll("input[name=deliver-kind]")) radio.addEventListener("change", showKind);
    for (const radio of document.querySelectorAll("input[name=trouble]")) {
      radio.addEventListener("change", loadTrouble);
    }
    $("logout").addEventListener("click", async () => {
      await api("/api/v1/auth/logout", { method: "POST" });
      location.href = "/operator.html";
    });
    await Promise.all([loadClients(), loadCatalogue()]); // the deliveries name both
    await Promise.all([loadTrouble(), loadPolicyVersions(), loadDlq(), loadDeliveries()]);
    // A proposal made, edited, approved or sent back (by a client, or in another tab), and a
    // post's status changing (dispatched, published, failed…), are pushed by the server
    // (GET /api/v1/operator/events, web/live.js): the deliveries (where each post stands)
    // and the posts in trouble are read again, once for a burst; the clients too when any
    // proposal event of the burst names a client this page does not know yet (not only the
    // burst's first). A status event leaves the clients and the form alone.
    let due = null;
    let clientsToo = false;
    const reload = (event) => {
      if (event && !knownClients.some((c) => c.client_id === event.client_id)) clientsToo = true;
      if (due) return;
      due = setTimeout(async () => {
        due = null;
        const unknown = clientsToo;
        clientsToo = false;
        if (unknown) await loadClients();
        await Promise.all([loadDeliveries(), loadTrouble()]);
      }, 300);
    };
    const moved = () => reload(null); // a post's status: whose is known (it was delivered or listed)
    window.CachalotLive.start(
      { proposal: reload, status: moved, reload: () => reload(), refresh: () => reload(), ended: () => location.reload() },
      { url: "/api/v1/operator/events", section: "deliver" },
    );
  }

  start();
})();
