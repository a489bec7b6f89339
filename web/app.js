// The client dashboard: sign in, connect accounts, compose a video, photo post
// or article, queue it for the connected accounts whose platform takes it and
// follow each target's status. Plain JS, no build step: every call goes to the
// same origin's /api/v1 (gateway or embedded). What each platform takes and
// the fields of its block come from the queue's registry
// (GET /api/v1/posts/platforms: kinds, JSON Schema of targets[i].<platform>).
"use strict";
(function () {
  // Text from platforms and people: invisible and bidirectional characters as codes (shown.js).
  const shown = window.cachalotShown;
  // The page's language (web/i18n.js): words from /i18n/<lang>.json, numbers and dates by Intl.
  const { t, lang: LANG, locale: LOCALE } = window.I18N;
  // Statuses, error codes and the server's problems in the page's language (web/words.js).
  const apiWords = window.CachalotWords;
  const { fieldError } = apiWords;
  const PLATFORMS = apiWords.platforms; // [key, name] pairs (web/words.js)
  const $ = (id) => document.getElementById(id);
  const show = (id, on) => $(id).classList.toggle("hidden", !on);
  let accounts = [];
  let catalogue = null; // platform name → {label, publishable, kinds, max_images, fields}
  let images = []; // the client's uploaded images (media items), newest first
  let videos = []; // the client's videos (the library), for changing a video post's
  let picked = []; // image ids of the photo post, in the order ticked
  const KIND_WORDS = { video: t("video"), photo: t("photo"), article: t("article") };

  function flash(kind, text) {
    const el = $("flash");
    el.className = "notice " + kind;
    el.textContent = shown(text);
  }

  // A new attempt supersedes the last one's notice ("Queued." beside the next post's
  // refusals read as if that post had been queued too).
  function unflash() {
    const el = $("flash");
    el.className = "notice hidden";
    el.textContent = "";
  }

  async function api(path, options = {}) {
    const response = await fetch(path, { credentials: "same-origin", ...options });
    let body = null;
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) body = await response.json().catch(() => null);
    return { status: response.status, ok: response.ok, body, headers: response.headers };
  }

  const problemText = (body, fallback) => apiWords.problem(body, fallback);
  const { inOrder } = window.CachalotLive; // overlapping reads of a list (web/live.js)

  function loginLinks(container, label) {
    container.textContent = "";
    for (const [key, name] of PLATFORMS) {
      const link = document.createElement("a");
      link.className = "button" + (label ? " secondary" : "");
      link.href = `/api/v1/auth/${key}/login?next=/`;
      link.textContent = label ? name : t("Sign in with {name}", { name });
      link.dataset.platform = key;
      container.appendChild(link);
    }
  }

  // What a person reads when sign-in goes wrong, keyed by the code auth puts in
  // `auth_error`. Only these words reach the page: the query string is anyone's
  // to write (a link in a phishing mail), so no text from it is ever shown; an
  // unknown code or platform gets the generic message.
  const SIGN_IN_ERRORS = {
    access_denied: (name) =>
      t("You declined access on {name}. To connect it, sign in again and allow access.", { name }),
    missing_scopes: (name) =>
      t("{name} was connected without some of the permissions CACHALOT needs. Sign in again and keep every permission ticked.", { name }),
    state_missing: () => t("This sign-in was not started from this browser. Start it again here."),
    state_invalid: () => t("This sign-in link is not valid for this browser. Start the sign-in again."),
    state_expired: () => t("The sign-in took longer than 10 minutes. Start it again."),
    state_mismatch: () =>
      t("This sign-in does not match the one this browser started. Start it again."),
    state_replayed: () => t("This sign-in link was already used. Start the sign-in again."),
    code_missing: (name) => t("{name} did not send the sign-in code back. Start the sign-in again.", { name }),
    sign_in_failed: (name) =>
      t("{name} refused the sign-in. Start it again; if it keeps failing, contact us.", { name }),
    platform_unavailable: (name) => t("{name} is not answering right now. Try again in a few minutes.", { name }),
    account_in_use: (name, known) => known
      ? t("This {name} account is already connected to another CACHALOT client. Sign out and sign in with it, or use another {name} account.", { name })
      : t("This account is already connected to another CACHALOT client. Sign out and sign in with it, or use another account."),
    not_configured: (name) => t("Sign-in with {name} is not set up on this server. Contact us.", { name }),
  };
  const GENERIC_SIGN_IN_ERROR = (name) =>
    t("Sign-in with {name} did not complete. Start it again; if it keeps failing, contact us.", { name });

  function platformName(key) {
    const known = PLATFORMS.find(([k]) => k === key);
    return known ? known[1] : null;
  }

  // `known`: the platform is one of ours; otherwise `name` is "the platform"
  // (the query's value is never shown) and a message words itself to suit.
  function signInMessage(code, platform) {
    const known = platformName(platform) !== null;
    const name = platformName(platform) || t("the platform");
    const own = Object.prototype.hasOwnProperty.call(SIGN_IN_ERRORS, code);
    const text = (own ? SIGN_IN_ERRORS[code] : GENERIC_SIGN_IN_ERROR)(name, known);
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function authErrorFromUrl() {
    const params = new URLSearchParams(location.search);
    const error = params.get("auth_error");
    const connected = params.get("connected");
    if (error !== null) {
      flash("bad", signInMessage(error, params.get("platform")));
      history.replaceState(null, "", "/");
    } else if (connected !== null) {
      const name = platformName(connected);
      flash("ok", name ? t("Connected {name}.", { name }) : t("Account connected."));
      history.replaceState(null, "", "/");
    }
  }

  async function loadMe() {
    const me = await api("/api/v1/me");
    if (me.status !== 200) {
      show("signin", true);
      ["consent", "accounts", "compose", "posts", "media", "data"].forEach((id) => show(id, false));
      $("who").textContent = "";
      show("logout", false);
      forgetPosts();
      return;
    }
    const client = me.body || {};
    show("signin", false);
    show("logout", true);
    $("who").textContent = client.email || t("signed in");
    const consented = Boolean(client.adult_confirmed_at || client.adult_confirmed) && Boolean(client.email);
    followLanguage(client, consented);
    show("consent", !consented);
    show("accounts", true);
    show("data", true);
    await loadAccounts();
    show("compose", consented && accounts.length > 0);
    show("posts", true);
    await loadPosts();
    show("media", true);
    await loadMedia();
  }

  // E-mails follow the page's language (auth keeps it with the consent,
  // POST /api/v1/me/consent `language`): sent when the client switches, and once
  // when a consented client's kept choice differs from what auth holds. A browser
  // where no language was chosen takes the account's (the page reloads in it).
  let consentedClient = null;
  function followLanguage(client, consented) {
    consentedClient = consented ? client : null;
    if (consented && window.I18N.explicit && client.language !== LANG) sendLanguage(LANG);
    else if (client.language) window.I18N.adopt(client.language);
  }
  async function sendLanguage(language) {
    if (!consentedClient) return;
    await api("/api/v1/me/consent", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: consentedClient.email, adult: true, language }),
    });
  }
  window.I18N.onSwitch(sendLanguage);

  // Sizes in binary units with the language's digits and unit names ("1,5 МиБ").
  function formatBytes(n) {
    const units = [t("bytes"), t("KiB"), t("MiB"), t("GiB"), t("TiB")];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return i === 0
      ? t("{size} bytes", { size: window.I18N.number(n), n })
      : `${window.I18N.number(n, { minimumFractionDigits: 1, maximumFractionDigits: 1 })} ${units[i]}`;
  }

  // The client's files with the room they take (web/uploads.js draws the library:
  // picture, duration, size, the posts using each, "Use in a new post" and "Delete").
  const mediaReads = inOrder();
  async function loadMedia() {
    const read = mediaReads.sent();
    const res = await api("/api/v1/media?limit=100");
    // "cachalot:media-read" says each answer was taken, drawn or not (tests wait for it)
    const taken = (detail) => document.dispatchEvent(new CustomEvent("cachalot:media-read", { detail }));
    if (!res.ok || !mediaReads.drawable(read)) { taken("not drawn"); return; }
    $("media-usage").textContent =
      t("{used} used of {quota}.", { used: formatBytes(res.body.used_bytes), quota: formatBytes(res.body.quota_bytes) });
    const items = res.body.items || [];
    images = items.filter((m) => m.content_type.startsWith("image/"));
    videos = items.filter((m) => m.content_type.startsWith("video/"));
    renderImageChoices();
    window.CachalotUploads.renderLibrary($("media-body"), items, {
      onFlash: flash,
      onChange: loadMedia,
      onChosen: () => applyKind(),
    });
    taken("drawn");
  }

  // Each account's row is kept by its id and only what changed is written, so the
  // table can be refreshed every few seconds (an account revoked or needing a
  // reconnect elsewhere shows here) without losing focus or a half-typed channel.
  function cellsOf(row, count) {
    while (row.cells.length < count) row.insertCell();
    return row.cells;
  }

  // Puts `node` right after `previous` (first when null) in `parent`, moving it only when
  // it is elsewhere: a moved element loses keyboard focus.
  function placeAfter(parent, node, previous) {
    const expected = previous ? previous.nextSibling : parent.firstChild;
    if (node !== expected) parent.insertBefore(node, expected);
  }

  function setText(el, text) {
    const value = shown(text);
    if (el.textContent !== value) el.textContent = value;
  }

  // A Telegram account posts to a channel the client links (auth's
  // PUT /api/v1/accounts/{id}/telegram-channel, the row's own account); until one is linked it cannot be posted to.
  // Auth says so (needs_channel: none linked, or our bot can no longer post in it); the
  // sign-in is fine then, so the fix offered is linking a channel, never "Reconnect".
  function needsChannel(account) {
    if (account.status === "revoked") return false;
    if (typeof account.needs_channel === "boolean") return account.needs_channel;
    return account.platform === "telegram" && (!account.channel_id || account.status === "needs_channel");
  }

  function accountActions(cell, account) {
    // a VK person's communities or a Telegram channel: their names can be read again
    const names = account.status === "ok" && (Array.isArray(account.communities) || Boolean(account.channel_id));
    const shape = `${account.status}|${needsChannel(account)}|${names}`;
    if (cell.dataset.shape === shape || inUse(cell)) return;
    rebuilding(cell, () => buildAccountActions(cell, account, shape, names));
  }

  function buildAccountActions(cell, account, shape, names) {
    cell.dataset.shape = shape;
    cell.textContent = "";
    if (account.status !== "ok" && account.status !== "needs_channel") {
      const again = document.createElement("a");
      again.className = "button secondary";
      again.href = `/api/v1/auth/${account.platform}/login?next=/`;
      again.textContent = t("Reconnect");
      cell.appendChild(again);
    }
    if (needsChannel(account)) {
      const form = document.createElement("form");
      form.className = "link-channel";
      const id = `channel-${account.id}`;
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = t("Channel (@name or -100… id)");
      const input = document.createElement("input");
      input.type = "text";
      input.id = id;
      input.name = "channel_id";
      input.placeholder = "@mychannel";
      const button = document.createElement("button");
      button.type = "submit";
      button.textContent = t("Link a channel");
      const error = document.createElement("div");
      error.className = "field-error";
      error.dataset.error = "channel_id";
      const hint = document.createElement("div");
      hint.className = "muted hint";
      hint.textContent = t("Add our bot to the channel as an administrator allowed to post, then link it here.");
      form.append(label, input, hint, button, error);
      input.setAttribute("aria-describedby", `${id}-error`);
      error.id = `${id}-error`;
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        error.textContent = "";
        const channel = input.value.trim();
        if (!channel) {
          error.textContent = t("Write the channel's @name or its numeric id starting with -100.");
          input.focus();
          return;
        }
        // this row's own account (a client may have two Telegram accounts)
        const res = await api(`/api/v1/accounts/${encodeURIComponent(account.id)}/telegram-channel`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ channel }),
        });
        if (res.ok) {
          flash("ok", t("Channel linked."));
          await loadAccounts();
          // the form goes with the link: the account's row and its new status are where
          // the person is now (the notice above says it to a screen reader)
          focusRow($("accounts-body"), `tr[data-account="${CSS.escape(account.id)}"]`);
        } else {
          // the form's shape (length, pattern) in the page's words, not the validator's;
          // a refusal by its code (words.js)
          const first = res.body && Array.isArray(res.body.errors) && res.body.errors[0];
          error.textContent = first && /^string_/.test(first.type || "")
            ? t("Write the channel as @name or as its numeric id starting with -100.")
            : first ? fieldError(first) : problemText(res.body, t("Could not link the channel."));
          input.focus();
        }
      });
      cell.appendChild(form);
    }
    if (names) {
      // POST /api/v1/accounts/{id}/details: read again from the platform (at most once a
      // minute per account; a change also reaches other tabs as an account event)
      const again = document.createElement("button");
      again.className = "secondary";
      again.dataset.action = "read-names";
      again.textContent = t("Refresh names");
      again.onclick = async () => {
        again.disabled = true;
        const res = await api(`/api/v1/accounts/${account.id}/details`, { method: "POST" });
        again.disabled = false;
        flash(res.ok ? "ok" : "bad", res.ok ? t("Names read again from the platform.") : problemText(res.body, t("Could not read the names again.")));
        if (res.ok) await loadAccounts();
      };
      cell.appendChild(again);
    }
    const remove = document.createElement("button");
    remove.className = "secondary";
    remove.textContent = t("Disconnect");
    remove.onclick = async () => {
      const res2 = await api(`/api/v1/accounts/${account.id}`, { method: "DELETE" });
      flash(res2.ok ? "ok" : "bad", res2.ok ? t("Disconnected.") : problemText(res2.body, t("Could not disconnect.")));
      await loadMe();
    };
    cell.appendChild(remove);
  }

  function accountStatusText(account) {
    if (needsChannel(account)) return account.channel_id ? t("channel link broken") : t("no channel linked");
    return apiWords.status(account.status);
  }

  const accountReads = inOrder();
  async function loadAccounts({ refresh = false } = {}) {
    const read = accountReads.sent();
    const res = await api("/api/v1/accounts");
    if (res.status === 401) { // signed out or erased in another tab: show the sign-in
      accounts = [];
      if (refresh && !$("accounts").classList.contains("hidden")) await loadMe();
      return;
    }
    if (!res.ok || !accountReads.drawable(read)) return; // kept: the next read tries again
    accounts = Array.isArray(res.body) ? res.body : (res.body && res.body.items) || [];
    if (posts.size) renderPosts(); // "Where" names each target's account
    const body = $("accounts-body");
    const active = document.activeElement; // a moved row loses the focus: it is put back below
    const keep = new Set(accounts.map((a) => a.id));
    for (const row of [...body.rows]) if (!keep.has(row.dataset.account)) row.remove();
    let previous = null;
    for (const account of accounts) {
      let row = body.querySelector(`tr[data-account="${CSS.escape(account.id)}"]`);
      if (!row) {
        row = document.createElement("tr");
        row.dataset.account = account.id;
        row.dataset.platform = account.platform;
      }
      placeAfter(body, row, previous);
      previous = row;
      const [platform, name, status, scopes, actions] = cellsOf(row, 5);
      platform.dataset.label = t("Platform");
      name.dataset.label = t("Name");
      status.dataset.label = t("Status");
      scopes.dataset.label = t("Scopes");
      setText(platform, apiWords.platform(account.platform));
      setText(name, (account.display_name || "—") +
        (account.channel_title || account.channel_id ? ` · ${t("channel:")} ${account.channel_title || account.channel_id}` : ""));
      setText(status, accountStatusText(account));
      const statusClass = "status " + (needsChannel(account) ? "needs-channel" : account.status);
      if (status.className !== statusClass) status.className = statusClass;
      setText(scopes, (account.scopes || []).join(", "));
      accountActions(actions, account);
    }
    if (active && active !== document.activeElement && active.isConnected) active.focus();
    await renderTargets();
  }

  async function loadCatalogue() {
    if (catalogue) return catalogue;
    const res = await api("/api/v1/posts/platforms");
    if (!res.ok) return {};
    catalogue = {};
    for (const item of res.body.items || []) catalogue[item.name] = item;
    return catalogue;
  }

  function chosenKind() {
    const checked = document.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : "video";
  }

  // Why an account cannot be posted to with this kind ("" when it can), in the
  // registry's words (cachalot_common.platforms.PlatformSpec.check).
  function refusal(spec, name, kind) {
    if (!spec || !spec.publishable) return t("Publishing to {name} is not supported yet.", { name });
    if (!spec.kinds.includes(kind)) {
      const takes = new Intl.ListFormat(LOCALE, { type: "disjunction" }).format(spec.kinds.map((k) => KIND_WORDS[k]));
      return t("{platform} cannot take {kind} posts; it takes {takes} posts", { platform: spec.label, kind: KIND_WORDS[kind], takes });
    }
    return "";
  }

  // VK's owner_id: the account's own wall (the default: no owner_id is sent) or one of
  // the communities its person ran at the last sign-in (auth's accounts API,
  // `communities`), each as -<community id>, as VK's wall.post takes it.
  function wallChoice(account) {
    const select = document.createElement("select");
    const own = document.createElement("option");
    own.value = "";
    own.textContent = t("Own wall");
    own.defaultSelected = own.selected = true; // reset() keeps it
    select.appendChild(own);
    for (const id of account.communities || []) select.appendChild(communityOption(-id, account));
    return select;
  }

  // A reconnect may change the communities or their names: the select follows, keeping the
  // choice if it is still offered.
  function refreshWalls(row, account) {
    const select = row.querySelector('select[name="owner_id"]');
    if (!select) return;
    const offered = ["", ...(account.communities || []).map((id) => String(-id))];
    const fresh = wallChoice(account);
    const listed = (options) => [...options].map((o) => `${o.value} ${o.textContent}`).join("\n");
    if (listed(fresh.options) === listed(select.options)) return;
    const chosen = select.value;
    select.replaceChildren(...fresh.options);
    select.value = offered.includes(chosen) ? chosen : "";
  }

  // A community as "name (id)", its name as VK's groups.get gave it at the last sign-in
  // (auth's `community_details`); "Community <id>" while its name is not known.
  function communityOption(ownerId, account) {
    const option = document.createElement("option");
    option.value = String(ownerId);
    const known = ((account && account.community_details) || []).find((c) => c.id === -ownerId);
    option.textContent = ownerId >= 0 ? String(ownerId)
      : known && known.name ? `${shown(known.name)} (${-ownerId})` : t("Community {id}", { id: String(-ownerId) });
    return option;
  }

  // One form control per property of the platform's block (its JSON Schema):
  // an enum is a select, a boolean a checkbox, a number a number box, a list a
  // comma-separated line, text a line or (captions, descriptions, messages) a box.
  // Its label is the schema's title and its hint the description, both through the
  // catalogues; a field the registry marks for some kinds only (`x-kinds`,
  // cachalot_common.platforms.spec.for_kinds: a Telegram caption is not for articles)
  // is shown only with those kinds.
  function fieldFor(account, name, prop, required) {
    const wrap = document.createElement("div");
    wrap.className = "block-field";
    if (Array.isArray(prop["x-kinds"])) wrap.dataset.kinds = prop["x-kinds"].join(" ");
    const id = `f-${account.id}-${name}`;
    const type = prop.type || ((prop.anyOf || []).map((p) => p.type).find((t) => t !== "null")) || "string";
    let input;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = t(prop.title || name) + (required ? ` ${t("(required)")}` : "");
    const wall = account.platform === "vk" && name === "owner_id";
    if (wall) {
      input = wallChoice(account);
    } else if (prop.enum) {
      input = document.createElement("select");
      for (const value of prop.enum) {
        const option = document.createElement("option");
        option.value = value;
        // the registry's words for each value (`x-choices`, spec.choice_words), else the value
        option.textContent = t((prop["x-choices"] || {})[value] || value);
        option.defaultSelected = option.selected = value === prop.default; // reset() keeps it
        input.appendChild(option);
      }
    } else if (type === "boolean") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.defaultChecked = input.checked = prop.default === true;
      label.textContent = "";
      label.className = "inline";
    } else if (type === "integer" || type === "number") {
      input = document.createElement("input");
      input.type = "number";
      if (prop.default !== undefined && prop.default !== null) input.defaultValue = prop.default;
    } else if (/caption|description|message/.test(name)) {
      input = document.createElement("textarea");
      input.defaultValue = prop.default || "";
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.defaultValue = Array.isArray(prop.default) ? prop.default.join(", ") : prop.default || "";
    }
    input.id = id;
    input.name = name;
    input.dataset.type = type;
    if (type === "boolean") {
      label.appendChild(input);
      label.append(` ${t(prop.title || name)}`);
      wrap.appendChild(label);
    } else {
      wrap.appendChild(label);
      wrap.appendChild(input);
    }
    const words = !wall ? prop.description && t(prop.description)
      : account.communities ? t("The account's own wall, or a community it ran when it was last connected.")
        : t("Reconnect this VK account to choose a community it runs.");
    if (words) {
      const hint = document.createElement("div");
      hint.className = "muted hint";
      hint.textContent = words;
      wrap.appendChild(hint);
    }
    const error = document.createElement("div");
    error.className = "field-error";
    error.dataset.error = name;
    wrap.appendChild(error);
    return wrap;
  }

  // Whether a field's block-field is for posts of `kind` (fieldFor's data-kinds).
  function forKind(wrap, kind) {
    return !wrap.dataset.kinds || wrap.dataset.kinds.split(" ").includes(kind);
  }

  function blockValue(fieldset) {
    const block = {};
    for (const input of fieldset.querySelectorAll("[name]")) {
      if (input.closest("[data-own]")) continue; // composer.js's parts: see its adjust()
      if (input.closest(".block-field").classList.contains("hidden")) continue;
      const type = input.dataset.type;
      if (type === "boolean") block[input.name] = input.checked;
      else if (type === "integer" || type === "number") {
        if (input.value !== "") block[input.name] = Number(input.value);
      } else if (type === "array") {
        const items = input.value.split(",").map((t) => t.trim()).filter(Boolean);
        if (items.length) block[input.name] = items;
      } else block[input.name] = input.value;
    }
    return block;
  }

  // "Post to": every connected account, each with its platform's fields; an account
  // whose platform cannot take the chosen kind (or cannot be published to yet) is
  // shown disabled with the reason.
  async function renderTargets() {
    const specs = await loadCatalogue();
    const targets = $("targets");
    // rows are kept by account: a refresh of the accounts never clears a tick or a field
    const keep = new Set(accounts.map((a) => a.id));
    for (const row of [...targets.querySelectorAll(".target")]) {
      if (!keep.has(row.dataset.account)) row.remove();
    }
    let previous = null;
    for (const account of accounts) {
      const spec = specs[account.platform];
      const name = (spec && spec.label) || platformName(account.platform) || account.platform;
      const existing = targets.querySelector(`.target[data-account="${CSS.escape(account.id)}"]`);
      if (existing) {
        if (account.platform === "vk") refreshWalls(existing, account);
        existing.dataset.status = account.status;
        existing.dataset.channel = needsChannel(account) ? "missing" : "";
        placeAfter(targets, existing, previous); // the accounts' order, moved only if out of it
        previous = existing;
        continue;
      }
      const row = document.createElement("div");
      row.dataset.status = account.status;
      row.dataset.channel = needsChannel(account) ? "missing" : "";
      row.className = "target";
      row.dataset.account = account.id;
      row.dataset.platform = account.platform;
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = account.id;
      box.dataset.platform = account.platform;
      box.name = "target";
      box.checked = account.status === "ok" && !needsChannel(account);
      label.appendChild(box);
      label.append(` ${name}: ${account.display_name || account.id}`);
      row.appendChild(label);
      const reason = document.createElement("div");
      reason.className = "reason";
      row.appendChild(reason);
      const error = document.createElement("div");
      error.className = "field-error";
      error.dataset.error = "";
      row.appendChild(error);
      if (spec && spec.fields) {
        const fieldset = document.createElement("fieldset");
        fieldset.className = "block";
        const legend = document.createElement("legend");
        legend.textContent = name;
        fieldset.appendChild(legend);
        const required = new Set(spec.fields.required || []);
        for (const [field, prop] of Object.entries(spec.fields.properties || {})) {
          fieldset.appendChild(fieldFor(account, field, prop, required.has(field)));
        }
        row.appendChild(fieldset);
        if (window.CachalotComposer) window.CachalotComposer.enhance(row, account, spec, { box });
      }
      box.addEventListener("change", applyKind);
      placeAfter(targets, row, previous);
      previous = row;
    }
    applyKind();
  }

  // Shows the parts of the chosen kind, and which accounts can take it.
  function applyKind() {
    const kind = chosenKind();
    for (const part of document.querySelectorAll("#post-form > [data-kind]")) {
      part.classList.toggle("hidden", part.dataset.kind !== kind);
    }
    for (const row of document.querySelectorAll("#targets .target")) {
      const spec = (catalogue || {})[row.dataset.platform];
      const name = (spec && spec.label) || platformName(row.dataset.platform) || row.dataset.platform;
      // an account that cannot be posted to now (disconnected or to be reconnected, also
      // in another tab: the accounts are pushed live) is not offered, its tick kept for
      // when it is back (fresh12k: a ticked box stayed on and Queue was refused)
      const status = row.dataset.status;
      const why = status === "revoked"
        ? t("This account is disconnected: connect it again (under Connected accounts) to post to it.")
        : status === "reauth_required"
          ? t("Reconnect this account first (under Connected accounts).")
          : row.dataset.channel === "missing"
            ? t("Link a channel to this Telegram account first (under Connected accounts).")
            : refusal(spec, name, kind);
      const box = row.querySelector('input[name="target"]');
      box.disabled = Boolean(why);
      row.classList.toggle("disabled", Boolean(why));
      row.querySelector(".reason").textContent = why;
      const fieldset = row.querySelector("fieldset.block");
      if (fieldset) {
        fieldset.classList.toggle("hidden", Boolean(why) || !box.checked);
        for (const field of fieldset.querySelectorAll(".block-field[data-kinds]")) {
          field.classList.toggle("hidden", !forKind(field, kind));
        }
      }
      if (window.CachalotComposer) window.CachalotComposer.refresh(row);
    }
  }

  // One library image as a choice of a photo post: its picture (the library's thumbnail),
  // when it was uploaded, its size and sides, and the place it was ticked in (#1 first).
  // `chosen`: the ids ticked so far, in order; `onToggle(ticked)` after a change.
  function imageChoice(image, chosen, onToggle, name = "image") {
    const label = document.createElement("label");
    label.className = "image-choice";
    const tick = document.createElement("input");
    tick.type = "checkbox";
    tick.value = image.id;
    tick.name = name;
    tick.checked = chosen.includes(image.id);
    tick.addEventListener("change", () => onToggle(tick.checked));
    const picture = document.createElement("img");
    picture.src = `/api/v1/media/${encodeURIComponent(image.id)}/thumbnail`;
    picture.alt = ""; // the words beside it name the image
    picture.width = 48;
    picture.loading = "lazy";
    picture.addEventListener("error", () => picture.remove()); // no picture (yet): the words stay
    const sides = image.width && image.height ? ` · ${image.width}×${image.height}` : "";
    const order = document.createElement("span");
    order.className = "order";
    order.textContent = chosen.includes(image.id) ? `#${chosen.indexOf(image.id) + 1}` : "";
    label.append(tick, picture, ` ${when(image.created_at)} · ${formatBytes(image.size)}${sides}`, order);
    return label;
  }

  function renderImageChoices() {
    const box = $("image-choices");
    picked = picked.filter((id) => images.some((m) => m.id === id));
    box.textContent = images.length ? "" : t("No images uploaded yet.");
    for (const image of images) {
      box.appendChild(imageChoice(image, picked, (ticked) => {
        picked = ticked ? [...picked, image.id] : picked.filter((id) => id !== image.id);
        renderImageChoices();
        box.querySelector(`input[value="${image.id}"]`).focus();
      }));
    }
    const cover = $("article-cover");
    const chosen = cover.value;
    cover.textContent = "";
    const none = document.createElement("option");
    none.value = "";
    none.textContent = t("No cover");
    cover.appendChild(none);
    for (const image of images) {
      const option = document.createElement("option");
      option.value = image.id;
      option.textContent = `${when(image.created_at)} · ${formatBytes(image.size)}`;
      option.selected = image.id === chosen;
      cover.appendChild(option);
    }
  }

  // The client's posts, a page at a time ("Load more" follows the API's keyset
  // `next_cursor`). Every refresh re-reads the first page and each unfinished post of
  // the pages below it, and writes into the rows kept by target id only what changed:
  // focus stays where it was and a click never lands on a replaced button.
  const POSTS_PAGE = 20;
  const FINISHED = new Set(["published", "failed", "cancelled"]);
  const posts = new Map(); // post id → post (the API's PostPublic)
  let postOrder = []; // post ids in the list's order
  let postsCursor = null; // the next page's cursor; null once every page is shown
  let morePages = 0; // pages loaded with "Load more"
  let postsGeneration = 0; // bumped when the list is reset (order changed, signed out)

  // "newest first" (created) or "by publish time" (due, the queue's ?order=due)
  function postsOrder() {
    return $("posts-order").value === "due" ? "due" : "created";
  }

  // Times in the browser's own time zone, named once above the table (web/when.js).
  const ZONE = window.CachalotWhen.zone;
  function when(iso) {
    return iso ? window.CachalotWhen.text(iso) : "";
  }

  // a read never moves a target back to an older state (web/newest.js)
  const { instant, older, remember, newest } = window.CachalotNewest;
  function keepPost(post) {
    posts.set(post.id, newest(post));
  }

  function mergePosts(items, { top }) {
    const ids = items.map((p) => p.id);
    for (const post of items) keepPost(post);
    if (top) {
      const seen = new Set(ids);
      postOrder = [...ids, ...postOrder.filter((id) => !seen.has(id))];
    } else {
      const known = new Set(postOrder);
      postOrder = [...postOrder, ...ids.filter((id) => !known.has(id))];
    }
  }

  async function loadPosts() {
    const generation = postsGeneration;
    const res = await api(`/api/v1/posts?limit=${POSTS_PAGE}&order=${postsOrder()}`);
    if (!res.ok || generation !== postsGeneration) return; // the list was reset meanwhile
    const items = res.body.items || [];
    if (!morePages) postsCursor = res.body.next_cursor || null; // one page shown: its cursor
    mergePosts(items, { top: true });
    const first = new Set(items.map((p) => p.id));
    const stale = postOrder.filter((id) => !first.has(id) &&
      posts.get(id).targets.some((t) => !FINISHED.has(t.status)));
    for (const id of stale) {
      const one = await api(`/api/v1/posts/${id}`);
      if (one.ok) keepPost(one.body);
      else if (one.status === 404) { posts.delete(id); postOrder = postOrder.filter((p) => p !== id); }
    }
    renderPosts();
  }

  async function loadMorePosts() {
    if (!postsCursor) return;
    const button = $("posts-more");
    button.disabled = true;
    try {
      const res = await api(
        `/api/v1/posts?limit=${POSTS_PAGE}&order=${postsOrder()}&cursor=${encodeURIComponent(postsCursor)}`);
      if (!res.ok) { flash("bad", problemText(res.body, t("Could not load more posts."))); return; }
      const known = new Set(postOrder);
      const fresh = (res.body.items || []).find((p) => !known.has(p.id));
      mergePosts(res.body.items || [], { top: false });
      morePages += 1;
      postsCursor = res.body.next_cursor || null;
      renderPosts();
      button.disabled = false;
      // a disabled button drops the keyboard focus: it comes back to the button while more
      // remain, else to the first row just shown (its status, read by a screen reader)
      if (postsCursor) button.focus();
      else if (fresh) focusRow($("posts-body"), `tr[data-post="${CSS.escape(fresh.id)}"]`);
    } finally {
      button.disabled = false;
    }
  }

  function forgetPosts() {
    posts.clear();
    postOrder = [];
    postsCursor = null;
    morePages = 0;
    postsGeneration += 1;
    $("posts-body").textContent = "";
    show("posts-more", false);
  }

  // After an action whose control goes away or moves (Retry, Cancel, Save, a channel
  // linked): the keyboard goes to the changed row's status, which a screen reader then
  // reads (the notice above, role=status, says what was done). `selector` finds the row.
  function focusRow(container, selector) {
    const row = container.querySelector(selector);
    const place = row && (row.querySelector(".status") || row.firstElementChild);
    if (!place) return;
    place.tabIndex = -1;
    place.focus();
  }
  const targetRow = (target) => `[data-target="${CSS.escape(target.id)}"]`; // a table row, a list line

  // A live change never closes what a person has open nor moves their keyboard (issue 12):
  // `inUse` — a field of `node` has the focus (typing), or a form it toggled open is open;
  // the caller then leaves `node` as it is (its shape stays old, so it is rebuilt once
  // free). `rebuilding` writes `node` again with `build()`, keeping an open history open
  // and the focus on the control of the same name, else on the row's status.
  function inUse(node) {
    const active = document.activeElement;
    return (node.contains(active) && active.matches("input,select,textarea"))
      || Boolean(node.querySelector("form.reschedule:not(.hidden)"));
  }

  function rebuilding(node, build) {
    const active = node.contains(document.activeElement) ? document.activeElement : null;
    const name = (el) => el.getAttribute("aria-label") || el.textContent;
    const opened = [...node.querySelectorAll("details[open] > summary")].map(name);
    build();
    for (const summary of node.querySelectorAll("details > summary")) {
      if (opened.includes(name(summary))) summary.parentElement.open = true;
    }
    if (!active || active.isConnected) return;
    const same = [...node.querySelectorAll("button,summary,a,input")].find((el) => name(el) === name(active));
    const row = node.closest("tr");
    if (same) same.focus();
    else if (row) focusRow(row.parentElement, `tr[data-target="${CSS.escape(row.dataset.target || "")}"], tr[data-account="${CSS.escape(row.dataset.account || "")}"]`);
  }

  const ACTION_DONE = {
    cancel: () => t("Cancelled."),
    retry: () => t("Queued again."),
    "mark-published": () => t("Marked as published."),
    "publish-again": () => t("Queued again."),
  };

  const ACTION_FAILED = {
    cancel: () => t("Could not cancel."),
    retry: () => t("Could not retry."),
    "mark-published": () => t("Could not mark it as published."),
    "publish-again": () => t("Could not publish it again."),
  };

  // `body`: the JSON sent (mark-published's optional link); the others send none.
  async function targetAction(post, target, verb, body) {
    const options = { method: "POST" };
    if (body !== undefined) {
      options.headers = { "content-type": "application/json" };
      options.body = JSON.stringify(body);
    }
    const res = await api(`/api/v1/posts/${post.id}/targets/${target.id}/${verb}`, options);
    if (res.ok && res.body) {
      keepPost(res.body);
      renderPosts();
      flash("ok", ACTION_DONE[verb]());
      focusRow($("posts-body"), targetRow(target));
    } else {
      flash("bad", problemText(res.body, ACTION_FAILED[verb]()));
      await loadPosts();
    }
  }

  // An unconfirmed target (we could not confirm whether its post went out, issue 10): the
  // client looked at the platform and says which it is. "Publish again" is a new attempt
  // that may post a second time, so it asks first; it is not offered once the media was
  // deleted (`again` false).
  function unconfirmedActions(cell, post, target, where, again) {
    const link = document.createElement("input");
    link.type = "url";
    link.name = "remote_url";
    link.placeholder = t("Link to the post (optional)");
    link.setAttribute("aria-label", t("Link to the {platform} post (optional)", { platform: where }));
    const mark = document.createElement("button");
    mark.className = "secondary";
    mark.textContent = t("Mark as published");
    mark.setAttribute("aria-label", t("Mark as published: the {platform} post", { platform: where }));
    mark.onclick = () => {
      const url = link.value.trim();
      targetAction(posts.get(post.id) || post, target, "mark-published", url ? { url } : {});
    };
    cell.append(link, mark);
    if (!again) return;
    const repost = document.createElement("button");
    repost.className = "secondary";
    repost.textContent = t("Publish again");
    repost.setAttribute("aria-label", t("Publish again: the {platform} post", { platform: where }));
    repost.onclick = () => {
      if (!window.confirm(t("Publish again? If the first post did go out, it will appear twice."))) return;
      targetAction(posts.get(post.id) || post, target, "publish-again");
    };
    cell.append(repost);
  }

  function targetActions(cell, post, target) {
    let shape = "";
    if (target.status === "scheduled" || target.status === "paused") shape = "cancel";
    else if (target.status === "failed" && post.media_deleted) shape = "deleted";
    else if (target.status === "failed") shape = "retry";
    else if (target.status === "unconfirmed") shape = post.media_deleted ? "unconfirmed-kept" : "unconfirmed";
    const first = post.targets[0] && post.targets[0].id === target.id;
    const content = first && contentOpen(post);
    const key = shape + (first ? "+history" : "") + (content ? "+content" : "");
    if (cell.dataset.shape === key || inUse(cell)) return;
    rebuilding(cell, () => buildActions(cell, post, target, shape, key, first, content));
  }

  function buildActions(cell, post, target, shape, key, first, content) {
    cell.dataset.shape = key;
    cell.textContent = "";
    cell.className = shape === "deleted" ? "muted" : "";
    const where = platformName(target.platform) || target.platform;
    if (shape === "cancel" && (catalogue || {})[target.platform] && catalogue[target.platform].fields) {
      const edit = document.createElement("button");
      edit.className = "secondary";
      edit.textContent = t("Edit");
      edit.setAttribute("aria-label", t("Edit the {platform} post", { platform: where }));
      edit.onclick = () => openEditor(posts.get(post.id) || post, target.id);
      cell.appendChild(edit);
    }
    if (shape === "retry" && (catalogue || {})[target.platform] && catalogue[target.platform].fields) {
      const mend = document.createElement("button");
      mend.className = "secondary";
      mend.textContent = t("Edit and queue again");
      mend.setAttribute("aria-label", t("Edit and queue again: the {platform} post", { platform: where }));
      mend.onclick = () => openEditor(posts.get(post.id) || post, target.id, { requeue: true });
      cell.appendChild(mend);
    }
    if (shape === "cancel" || shape === "retry") {
      const button = document.createElement("button");
      button.className = "secondary";
      button.textContent = shape === "cancel" ? t("Cancel") : t("Retry");
      button.setAttribute("aria-label", shape === "cancel"
        ? t("Cancel the {platform} post", { platform: where })
        : t("Retry the {platform} post", { platform: where }));
      button.onclick = () => targetAction(posts.get(post.id) || post, target, shape);
      cell.appendChild(button);
    } else if (shape.startsWith("unconfirmed")) {
      unconfirmedActions(cell, post, target, where, shape === "unconfirmed");
    } else if (shape === "deleted") {
      cell.textContent = post.kind && post.kind !== "video" ? t("media deleted") : t("video deleted");
    }
    // the post's own content (the video, the images, the article), on its first row while
    // no target is being published or done (PATCH /api/v1/posts/{id} then takes it)
    if (content) {
      const change = document.createElement("button");
      change.className = "secondary";
      change.textContent = CONTENT_WORDS[post.kind || "video"]();
      change.onclick = () => openContentEditor(posts.get(post.id) || post);
      cell.appendChild(change);
    }
    // the post's audit trail (queued or delivered and approved, leased, published), on its first row
    if (first && window.CachalotTrail) {
      cell.appendChild(window.CachalotTrail.details({
        viewer: "client",
        label: t("History of this post"),
        load: () => window.CachalotTrail.read(`/api/v1/posts/${post.id}/audit`),
      }));
    }
  }

  // A datetime-local value (the browser's zone) for an ISO time.
  function localInput(iso) {
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  // The publish time, and on a post's first row a "Reschedule" control while any of
  // its targets is not yet handed to a publisher (PATCH /api/v1/posts/{id}).
  function publishAt(cell, post, first) {
    const open = first && post.targets.some((t) => t.status === "scheduled" || t.status === "paused");
    const shape = open ? "edit" : "";
    if (cell.dataset.shape !== shape && !inUse(cell)) {
      cell.dataset.shape = shape;
      cell.textContent = "";
      const time = document.createElement("span");
      time.className = "when";
      cell.appendChild(time);
      if (open) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary small";
        button.textContent = t("Reschedule");
        const form = document.createElement("form");
        form.className = "reschedule hidden";
        const id = `when-${post.id}`;
        const label = document.createElement("label");
        label.htmlFor = id;
        label.textContent = t("New publish time");
        const input = document.createElement("input");
        input.type = "datetime-local";
        input.id = id;
        const save = document.createElement("button");
        save.type = "submit";
        save.textContent = t("Save");
        const error = document.createElement("div");
        error.className = "field-error";
        form.append(label, input, save, error);
        button.onclick = () => {
          input.value = localInput((posts.get(post.id) || post).scheduled_at);
          window.CachalotWhen.show(input);
          form.classList.toggle("hidden");
          if (!form.classList.contains("hidden")) window.CachalotWhen.focus(input);
          else renderPosts(); // what changed while it was open
        };
        form.addEventListener("submit", async (event) => {
          event.preventDefault();
          error.textContent = "";
          const partial = window.CachalotWhen.problem(input);
          if (partial || !input.value) { error.textContent = partial || t("Choose a date and time."); return; }
          const res = await api(`/api/v1/posts/${post.id}`, {
            method: "PATCH",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ scheduled_at: new Date(input.value).toISOString() }),
          });
          if (res.ok && res.body) {
            keepPost(res.body);
            form.classList.add("hidden");
            flash("ok", t("Rescheduled."));
            renderPosts();
            focusRow($("posts-body"), targetRow(res.body.targets[0]));
          } else {
            const first = res.body && Array.isArray(res.body.errors) && res.body.errors[0];
            error.textContent = first ? fieldError(first) : problemText(res.body, t("Could not reschedule."));
          }
        });
        cell.append(button, form);
        window.CachalotWhen.upgrade(input); // the date and time in the page's language
      }
    }
    setText(cell.querySelector(".when"), when(post.scheduled_at));
  }

  // "Edit": one target's settings (its platform's fields, filled from what was queued)
  // in a dialog, checked like the composer's, then PATCH /api/v1/posts/{id}.
  // `requeue`: "Edit and queue again" for a failed target: the changes are saved
  // (PATCH takes a failed target's settings), then the target is retried.
  let editing = null; // {post, target, requeue, holder} or {proposal, parts, done}

  // One target's block (its platform's fields, filled from `options`) in a fieldset
  // inside its own holder (composer.js keeps its state per holder), enhanced as the composer's.
  function blockEditor(spec, { key, platform, accountId, options, kind, legend }) {
    const fieldset = document.createElement("fieldset");
    fieldset.className = "block";
    const title = document.createElement("legend");
    title.textContent = legend;
    fieldset.appendChild(title);
    const required = new Set(spec.fields.required || []);
    for (const [field, prop] of Object.entries(spec.fields.properties || {})) {
      const owner = accounts.find((a) => a.id === accountId) || {};
      const wrap = fieldFor({ ...owner, id: key, platform }, field, prop, required.has(field));
      if (!forKind(wrap, kind)) wrap.classList.add("hidden");
      const input = wrap.querySelector("[name]");
      const value = options[field];
      if (input.tagName === "SELECT" && typeof value === "number"
        && ![...input.options].some((o) => o.value === String(value))) {
        input.appendChild(communityOption(value)); // a wall no longer listed stays as it was
      }
      if (value !== undefined && value !== null) {
        if (input.dataset.type === "boolean") input.checked = Boolean(value);
        else if (Array.isArray(value)) input.value = value.join(", ");
        else input.value = String(value);
      }
      fieldset.appendChild(wrap);
    }
    const holder = document.createElement("div");
    holder.appendChild(fieldset);
    $("edit-fields").appendChild(holder);
    if (window.CachalotComposer) {
      window.CachalotComposer.enhance(holder, { id: accountId, platform }, spec, { values: options, kind });
    }
    return { holder, fieldset, spec, platform, accountId };
  }

  // The composer's checks of one block, each problem written under its field (or in the
  // dialog's own line); true when there is none.
  function checkBlock(part) {
    // the rest (lengths, patterns, required fields) is the server's: PATCH checks it
    const problems = window.CachalotComposer ? window.CachalotComposer.check(part.holder) : [];
    for (const [field, words] of problems) {
      const place = part.fieldset.querySelector(`[data-error="${field}"]`) || $("edit-errors");
      place.textContent += (place.textContent ? " " : "") + words;
    }
    return !problems.length;
  }

  function blockOf(part) {
    return window.CachalotComposer
      ? window.CachalotComposer.adjust(part.holder, blockValue(part.fieldset)) : blockValue(part.fieldset);
  }

  // A post's content can change while each target is scheduled, paused, failed or cancelled
  // and one is not cancelled (the server's rule: PATCH answers 409 otherwise).
  const CONTENT_OPEN = new Set(["scheduled", "paused", "failed", "cancelled"]);
  function contentOpen(post) {
    return post.targets.every((x) => CONTENT_OPEN.has(x.status))
      && post.targets.some((x) => x.status !== "cancelled");
  }
  const CONTENT_WORDS = {
    video: () => t("Change the video"),
    photo: () => t("Change the images"),
    article: () => t("Change the article"),
  };

  // One labelled control in the edit dialog with its error slot (`data-error` = the API's field).
  function contentField(labelText, control, field) {
    const wrap = document.createElement("div");
    wrap.className = "block-field";
    const label = document.createElement("label");
    label.htmlFor = control.id;
    label.textContent = labelText;
    const error = document.createElement("div");
    error.className = "field-error";
    error.dataset.error = field;
    error.id = `${control.id}-error`;
    control.setAttribute("aria-describedby", error.id);
    wrap.append(label, control, error);
    return wrap;
  }

  function fileOption(item, chosen) {
    const option = document.createElement("option");
    option.value = item.id;
    option.textContent = `${when(item.created_at)} · ${formatBytes(item.size)}`;
    option.selected = item.id === chosen;
    return option;
  }

  // "Change the video / images / article": the post's content in the dialog, filled from the
  // post, saved with PATCH /api/v1/posts/{id}; the server checks it against every target.
  // The choices are the media library read when the dialog opens: the row's button is shown
  // once the posts are read, before the page's first read of the library has come back
  // (loadMe), and the dialog is drawn once (flake14: it opened with no images).
  async function openContentEditor(given) {
    await loadMedia();
    const post = posts.get(given.id) || given;
    const kind = post.kind || "video";
    // the post's own files older than the library's newest 100 (loadMedia) are read one by
    // one: else the dialog would not show them, and a save would drop or replace them
    const own = kind === "photo" ? post.image_ids || []
      : [kind === "article" ? (post.article || {}).cover_media_id : post.media_id];
    const known = new Set([...images, ...videos].map((m) => m.id));
    const older = [];
    for (const id of own.filter((x) => x && !known.has(x))) {
      const one = await api(`/api/v1/media/${encodeURIComponent(id)}`);
      if (one.ok && one.body) older.push(one.body);
    }
    const imageList = [...images, ...older.filter((m) => m.content_type.startsWith("image/"))];
    const videoList = [...videos, ...older.filter((m) => m.content_type.startsWith("video/"))];
    $("edit-title").textContent = CONTENT_WORDS[kind]();
    $("edit-save").textContent = t("Save");
    $("edit-errors").textContent = "";
    const box = $("edit-fields");
    box.textContent = "";
    let read;
    if (kind === "article") {
      const article = post.article || {};
      const title = document.createElement("input");
      title.type = "text";
      title.id = "edit-article-title";
      title.value = article.title || "";
      const text = document.createElement("textarea");
      text.id = "edit-article-body";
      text.rows = 10;
      text.value = article.body_html || "";
      const cover = document.createElement("select");
      cover.id = "edit-article-cover";
      const none = document.createElement("option");
      none.value = "";
      none.textContent = t("No cover");
      cover.appendChild(none);
      for (const image of imageList) cover.appendChild(fileOption(image, article.cover_media_id));
      box.append(
        contentField(t("Title"), title, "article.title"),
        contentField(t("Body"), text, "article.body_html"),
        contentField(t("Cover image (optional)"), cover, "article.cover_media_id"),
      );
      read = () => ({ article: { title: title.value, body_html: text.value, cover_media_id: cover.value || null } });
    } else if (kind === "photo") {
      let chosen = (post.image_ids || []).filter((id) => imageList.some((m) => m.id === id));
      const group = document.createElement("fieldset");
      group.id = "edit-images";
      const legend = document.createElement("legend");
      legend.textContent = t("Images, in the order they are ticked");
      group.appendChild(legend);
      const draw = () => {
        for (const label of [...group.querySelectorAll("label")]) label.remove();
        for (const image of imageList) {
          group.appendChild(imageChoice(image, chosen, (ticked) => {
            chosen = ticked ? [...chosen, image.id] : chosen.filter((id) => id !== image.id);
            draw();
            group.querySelector(`input[value="${image.id}"]`).focus();
          }, "edit-image"));
        }
      };
      draw();
      const error = document.createElement("div");
      error.className = "field-error";
      error.dataset.error = "image_ids";
      box.append(group, error);
      read = () => (chosen.length ? { image_ids: chosen } : null);
    } else {
      const select = document.createElement("select");
      select.id = "edit-video";
      for (const video of videoList) select.appendChild(fileOption(video, post.media_id));
      box.appendChild(contentField(t("Video"), select, "media_id"));
      read = () => (select.value ? { media_id: select.value } : null);
    }
    editing = { content: post, read };
    $("edit-dialog").showModal();
  }

  async function saveContent() {
    const { content: post, read } = editing;
    const body = read();
    if (!body) {
      $("edit-errors").textContent = post.kind === "photo" ? t("Choose at least one image.") : t("Choose a video.");
      return;
    }
    const res = await api(`/api/v1/posts/${post.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.ok && res.body) {
      keepPost(res.body);
      renderPosts();
      $("edit-dialog").close();
      flash("ok", t("Changes saved."));
      document.dispatchEvent(new CustomEvent("cachalot:post-changed", { detail: res.body }));
      return;
    }
    const errors = res.body && Array.isArray(res.body.errors) ? res.body.errors : [];
    const form = $("edit-form");
    for (const error of errors) {
      const name = String(error.field || "");
      // image_ids[2] and its facts are said at the images; article.* at their own field
      const slot = form.querySelector(`[data-error="${name.startsWith("image_ids") ? "image_ids" : name}"]`);
      const place = slot || $("edit-errors");
      place.textContent += (place.textContent ? " " : "") + fieldError(error);
    }
    if (!errors.length) $("edit-errors").textContent = problemText(res.body, t("Could not save."));
    const said = form.querySelector(".field-error:not(:empty)");
    const near = said && said.closest(".block-field");
    const control = near ? near.querySelector("input,select,textarea") : form.querySelector("#edit-images input");
    if (control) control.focus();
  }

  // The dialog edits the post as read now (GET, with its ETag): the save sends the ETag
  // in If-Match, so an edit saved meanwhile elsewhere (another tab) is never undone
  // silently; the server's 412 is said with what changed (changedElsewhere).
  async function openEditor(given, targetId, { requeue = false } = {}) {
    // where the person opened it (the posts table or the schedule's list): the changed
    // target is shown there when the dialog closes
    const from = document.activeElement && $("schedule-list").contains(document.activeElement)
      ? $("schedule-list") : $("posts-body");
    const read = await api(`/api/v1/posts/${given.id}`);
    const post = read.ok && read.body ? read.body : given;
    const target = post.targets.find((t) => t.id === targetId);
    const spec = target && (catalogue || {})[target.platform];
    if (!target || !spec || !spec.fields) return;
    const name = spec.label || target.platform;
    $("edit-title").textContent = requeue
      ? t("Edit and queue again: the {platform} post", { platform: name })
      : t("Edit the {platform} post", { platform: name });
    $("edit-save").textContent = requeue ? t("Save and queue again") : t("Save");
    $("edit-errors").textContent = "";
    $("edit-fields").textContent = "";
    const part = targetBlock(post, target, target.options || {});
    const etag = read.ok ? read.headers.get("etag") : null;
    editing = { post, target, requeue, holder: part.holder, part, from, etag, touched: new Set() };
    $("edit-dialog").showModal();
  }

  // One target's block in the edit dialog, with `options` in its fields; the fields the
  // person changes are noted in `editing.touched` (kept when the dialog is reloaded).
  function targetBlock(post, target, options) {
    const spec = catalogue[target.platform];
    const part = blockEditor(spec, {
      key: `edit-${target.id}`, platform: target.platform, accountId: target.account_id,
      options, kind: post.kind || "video", legend: spec.label || target.platform,
    });
    const touch = (event) => {
      const field = event.target.closest(".block-field");
      const named = field && field.querySelector("[name]");
      if (named && editing && editing.touched) editing.touched.add(named.name);
    };
    part.fieldset.addEventListener("input", touch);
    part.fieldset.addEventListener("change", touch);
    return part;
  }

  // The server's 412 (If-Match, RFC 9110 §13.1.1): the post was changed elsewhere since the
  // dialog read it. Says which of this target's settings changed (or that the post did
  // otherwise) and offers to reload: the other changes come in, what the person changed here
  // stays; a target no longer editable is said so.
  function changedElsewhere(res) {
    const now = res.body.post;
    keepPost(now);
    renderPosts();
    document.dispatchEvent(new CustomEvent("cachalot:post-changed", { detail: now }));
    const target = now.targets.find((x) => x.id === editing.target.id);
    const line = $("edit-errors");
    const editable = target && (target.status === "scheduled" || target.status === "paused"
      || (target.status === "failed" && editing.requeue));
    if (!editable) {
      line.textContent = t("Changed elsewhere while you were editing: this post is now {status} and can no longer be changed here.",
        { status: apiWords.status(target ? target.status : "cancelled") });
      line.tabIndex = -1;
      line.focus();
      return;
    }
    const before = editing.target.options || {};
    const after = target.options || {};
    const props = editing.part.spec.fields.properties || {};
    const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])]
      .filter((key) => !same(before[key], after[key]))
      .map((key) => t((props[key] && props[key].title) || key));
    line.textContent = fields.length
      ? t("Changed elsewhere while you were editing: {fields}. Reload to take those changes; what you changed here is kept.", { fields: fields.join(", ") })
      : t("Changed elsewhere while you were editing (its time or another account's post). Reload to take those changes; what you changed here is kept.");
    const reload = document.createElement("button");
    reload.type = "button";
    reload.className = "secondary small";
    reload.textContent = t("Reload");
    reload.onclick = () => {
      const typed = blockOf(editing.part);
      const options = { ...after };
      for (const key of editing.touched) {
        if (key in typed) options[key] = typed[key];
        else delete options[key]; // emptied here
      }
      $("edit-fields").textContent = "";
      const part = targetBlock(now, target, options);
      Object.assign(editing, { post: now, target, part, holder: part.holder, etag: res.headers.get("etag") });
      line.textContent = t("Reloaded: the changes made elsewhere are in, and what you changed here is kept. Save when ready.");
      const first = part.fieldset.querySelector(".block-field:not(.hidden) [name]");
      if (first) first.focus();
    };
    line.append(" ", reload);
    reload.focus();
  }

  // "Edit" of a proposal from our team (proposals.js): every target's texts and the
  // suggested time, checked as the composer checks, then
  // PATCH /api/v1/posts/proposals/{id}; the server's field errors
  // (targets[i].<platform>.<field>, scheduled_at) go under their fields. `done()` after saving.
  async function openProposalEditor(delivery, proposal, done) {
    const specs = await loadCatalogue();
    const kind = delivery.kind || "video";
    $("edit-title").textContent = t("Edit the proposal");
    $("edit-save").textContent = t("Save");
    $("edit-errors").textContent = "";
    $("edit-fields").textContent = "";
    const parts = [];
    for (const [i, target] of proposal.targets.entries()) {
      const platform = Object.keys(target).find((k) => k !== "account_id");
      const spec = specs[platform];
      const account = accounts.find((a) => a.id === target.account_id);
      if (!spec || !spec.fields) {
        $("edit-errors").textContent = t("Publishing to {name} is not supported yet.", { name: platform });
        continue;
      }
      const label = spec.label || platform;
      parts.push(blockEditor(spec, {
        key: `proposal-${proposal.id}-${i}`, platform, accountId: target.account_id,
        options: target[platform] || {}, kind,
        legend: account && account.display_name ? `${label}: ${shown(account.display_name)}` : label,
      }));
    }
    const wrap = document.createElement("div");
    wrap.className = "proposal-time";
    const label = document.createElement("label");
    label.htmlFor = "edit-when";
    label.textContent = proposal.scheduled_at
      ? t("Publish at") : t("Publish at (leave empty: when you approve)");
    const input = document.createElement("input");
    input.type = "datetime-local";
    input.id = "edit-when";
    input.setAttribute("aria-describedby", "edit-when-error");
    if (proposal.scheduled_at) input.value = localInput(proposal.scheduled_at);
    const error = document.createElement("div");
    error.className = "field-error";
    error.id = "edit-when-error";
    error.dataset.error = "scheduled_at";
    wrap.append(label, input, error);
    $("edit-fields").appendChild(wrap);
    window.CachalotWhen.upgrade(input);
    editing = { proposal, parts, done, time: input, timeError: error };
    $("edit-dialog").showModal();
  }
  window.CachalotDashboard = { openEditor, openProposalEditor };

  async function saveProposal() {
    const { proposal, parts, done, time, timeError } = editing;
    let fine = true;
    for (const part of parts) fine = checkBlock(part) && fine;
    time.removeAttribute("aria-invalid");
    const partial = window.CachalotWhen.problem(time);
    if (partial || (!time.value && proposal.scheduled_at)) {
      timeError.textContent = partial || t("Choose a date and time.");
      time.setAttribute("aria-invalid", "true");
      fine = false;
    }
    if (!fine || !parts.length) {
      focusFirstError($("edit-form"));
      return;
    }
    const body = { targets: parts.map((part) => ({ account_id: part.accountId, [part.platform]: blockOf(part) })) };
    if (time.value) body.scheduled_at = new Date(time.value).toISOString();
    const res = await api(`/api/v1/posts/proposals/${proposal.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.ok) {
      $("edit-dialog").close();
      if (done) await done(res.body);
      return;
    }
    const errors = res.body && Array.isArray(res.body.errors) ? res.body.errors : [];
    for (const error of errors) {
      const name = String(error.field || "");
      const field = /^targets\[(\d+)\]\.[a-z]+\.([a-z_]+)/.exec(name);
      let place = $("edit-errors");
      let said = fieldError(error);
      if (name === "scheduled_at") {
        place = timeError;
        time.setAttribute("aria-invalid", "true");
      } else if (field && parts[Number(field[1])]) {
        place = parts[Number(field[1])].fieldset.querySelector(`[data-error="${field[2]}"]`) || place;
      } else if (name) {
        said = `${name}: ${said}`;
      }
      place.textContent += (place.textContent ? " " : "") + said;
    }
    if (!errors.length) $("edit-errors").textContent = problemText(res.body, t("Could not save."));
    focusFirstError($("edit-form"));
  }

  $("edit-close").addEventListener("click", () => $("edit-dialog").close());
  $("edit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!editing) return;
    for (const el of $("edit-form").querySelectorAll(".field-error")) el.textContent = "";
    if (editing.proposal) { await saveProposal(); return; }
    if (editing.content) { await saveContent(); return; }
    const { post, target, requeue, part, from, etag } = editing;
    const fieldset = part.fieldset;
    if (!checkBlock(part)) { focusFirstError($("edit-form")); return; }
    const res = await api(`/api/v1/posts/${post.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json", ...(etag ? { "if-match": etag } : {}) },
      body: JSON.stringify({
        targets: [{ account_id: target.account_id, [target.platform]: blockOf(part) }],
      }),
    });
    if (res.status === 412 && res.body && res.body.post) { changedElsewhere(res); return; }
    if (res.ok && res.body && requeue) {
      const again = await api(`/api/v1/posts/${post.id}/targets/${target.id}/retry`, { method: "POST" });
      if (!again.ok) {
        keepPost(res.body);
        renderPosts();
        $("edit-errors").textContent = t("Saved, but not queued again: {why}", { why: problemText(again.body, t("try Retry.")) });
        return;
      }
      keepPost(again.body);
      renderPosts();
      $("edit-dialog").close();
      flash("ok", t("Changes saved; queued again."));
      focusRow(from, targetRow(target));
      document.dispatchEvent(new CustomEvent("cachalot:post-changed", { detail: again.body }));
      return;
    }
    if (res.ok && res.body) {
      keepPost(res.body);
      renderPosts();
      $("edit-dialog").close();
      flash("ok", t("Changes saved."));
      focusRow(from, targetRow(target));
      document.dispatchEvent(new CustomEvent("cachalot:post-changed", { detail: res.body }));
      return;
    }
    const errors = res.body && Array.isArray(res.body.errors) ? res.body.errors : [];
    for (const error of errors) {
      const field = /^targets\[0\]\.[a-z]+\.([a-z_]+)/.exec(String(error.field || ""));
      const place = (field && fieldset.querySelector(`[data-error="${field[1]}"]`)) || $("edit-errors");
      place.textContent += (place.textContent ? " " : "") + fieldError(error);
    }
    if (!errors.length) $("edit-errors").textContent = problemText(res.body, t("Could not save."));
    focusFirstError($("edit-form"));
  });

  function renderPosts() {
    const body = $("posts-body");
    const active = document.activeElement; // a moved row loses the focus: it is put back below
    const wanted = new Set();
    let previous = null;
    for (const id of postOrder) {
      const post = posts.get(id);
      if (!post) continue;
      for (const target of post.targets) {
        wanted.add(target.id);
        let row = body.querySelector(`tr[data-target="${CSS.escape(target.id)}"]`);
        if (!row) {
          row = document.createElement("tr");
          row.dataset.target = target.id;
          row.dataset.post = post.id;
          row.dataset.platform = target.platform;
        }
        placeAfter(body, row, previous);
        previous = row;
        const [due, created, where, status, result, actions] = cellsOf(row, 6);
        due.dataset.label = t("Publish at");
        publishAt(due, post, target === post.targets[0]);
        row.dataset.due = post.scheduled_at;
        created.dataset.label = t("Created");
        where.dataset.label = t("Where");
        status.dataset.label = t("Status");
        result.dataset.label = t("Result");
        setText(created, when(post.created_at));
        // the platform in words and the account by its name (two accounts of one
        // platform are told apart); an account no longer connected: the platform alone
        const account = accounts.find((a) => a.id === target.account_id);
        const named = [platformName(target.platform) || target.platform, account && account.display_name].filter(Boolean).join(" · ");
        // and the post as the client knows it: the start of this target's own words
        // (its title or caption; the queue cuts it between whole characters)
        const kindWord = post.kind && post.kind !== "video" ? ` (${post.kind === "photo" ? t("photo post") : t("article")})` : "";
        const words = target.text_start ? t("“{text}”", { text: target.text_start }) : ""; // setText shows it
        setText(where, [named + kindWord, words].filter(Boolean).join(" — "));
        let text = apiWords.status(target.status);
        if (target.status === "publishing" && target.bytes_total) {
          text += ` ${window.I18N.number((target.bytes_sent || 0) / target.bytes_total, { style: "percent", maximumFractionDigits: 0 })}`;
        }
        setText(status, text);
        if (status.className !== "status " + target.status) status.className = "status " + target.status;
        const link = target.remote_url || "";
        // the last error explains a target that waits, failed or stopped; once it is handed
        // to the publisher again (dispatched, publishing) it is no longer why (fresh10e: a
        // resumed target read "dispatched" beside "Reconnect this account" until published)
        const working = target.status === "dispatched" || target.status === "publishing";
        const why = working ? "" : apiWords.reason(target.last_error_code, target.last_error, platformName(target.platform));
        if (result.dataset.link !== link || (!link && result.textContent !== shown(why))) {
          result.dataset.link = link;
          result.textContent = "";
          if (link) {
            const a = document.createElement("a");
            a.href = link;
            a.textContent = t("open");
            a.target = "_blank";
            a.rel = "noopener";
            result.appendChild(a);
          } else {
            result.textContent = shown(why);
          }
        }
        targetActions(actions, post, target);
      }
    }
    for (const row of [...body.rows]) if (!wanted.has(row.dataset.target)) row.remove();
    if (active && active !== document.activeElement && active.isConnected) active.focus();
    show("posts-more", Boolean(postsCursor));
    // schedule.js merges what changed into its list and calendar
    document.dispatchEvent(new CustomEvent("cachalot:posts", { detail: [...posts.values()] }));
  }

  $("consent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const res = await api("/api/v1/me/consent", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: $("email").value, adult: $("adult").checked, language: LANG }),
    });
    if (res.ok) { flash("ok", t("Thank you.")); await loadMe(); }
    else showConsentErrors(res.body);
  });

  $("logout").addEventListener("click", async () => {
    await api("/api/v1/auth/logout", { method: "POST" });
    await loadMe();
  });

  $("erase").addEventListener("click", async () => {
    if (!confirm(t("Delete your account, your connected accounts and your posts? This cannot be undone."))) return;
    const res = await api("/api/v1/me", { method: "DELETE" });
    flash(res.ok ? "ok" : "bad", res.ok ? t("Your data was deleted.") : problemText(res.body, t("Could not delete.")));
    await loadMe();
  });

  for (const radio of document.querySelectorAll('input[name="kind"]')) {
    radio.addEventListener("change", applyKind);
  }

  // Focus what the first error said in `container` (in the page's order) speaks of, so a
  // person, and a screen reader, lands on what to mend first: the field just before it
  // (each error sits right after its field), or the error line itself when it names no
  // field (the form's own line). True when there was an error to go to.
  function focusFirstError(container) {
    const first = container.querySelector(".field-error:not(:empty)");
    if (!first) return false;
    const usable = (c) => c.matches("input,select,textarea") && !c.disabled && c.type !== "hidden" &&
      !c.closest("[aria-hidden=true]") && c.offsetParent !== null;
    const named = first.dataset.field !== undefined || first.dataset.error !== undefined;
    for (let node = named ? first.previousElementSibling : null; node; node = node.previousElementSibling) {
      const control = [node, ...node.querySelectorAll("input,select,textarea")].find(usable);
      if (control) { control.focus(); return true; }
    }
    first.tabIndex = -1;
    first.focus();
    return true;
  }

  function clearErrors() {
    for (const el of document.querySelectorAll("#post-form .field-error")) el.textContent = "";
  }

  // Each server error under the field it names (`image_ids[2]`, `article.body_html`,
  // `targets[1].tiktok.caption`, `targets[0].account_id`); what names no field shown
  // here goes to the form's own line. `keepSaid`: a field that already says something
  // (the browser's own words) is left as it is.
  function showErrors(body, fallback, sent, { keepSaid = false } = {}) {
    const errors = body && Array.isArray(body.errors) ? body.errors : [];
    const loose = [];
    const said = new Set(keepSaid ? [...document.querySelectorAll("#post-form .field-error")].filter((el) => el.textContent) : []);
    for (const error of errors) {
      const field = String(error.field || "");
      let place = null;
      const target = /^targets\[(\d+)\](?:\.([a-z]+)(?:\.([a-z_]+))?)?/.exec(field);
      if (target && sent[Number(target[1])]) {
        const row = document.querySelector(`#targets .target[data-account="${sent[Number(target[1])]}"]`);
        if (row) {
          place = (target[3] && row.querySelector(`[data-error="${target[3]}"]`)) ||
            row.querySelector('[data-error=""]');
        }
      } else {
        // the closest field shown: image_ids[3] goes under image_ids, saying which
        let name = field;
        while (name) {
          place = document.querySelector(`#post-form [data-field="${name}"]`);
          if (place) break;
          const shorter = name.replace(/(\[\d+\]|\.[^.[]+)$/, "");
          if (shorter === name) break;
          name = shorter;
        }
        if (place && name !== field) {
          place.textContent += (place.textContent ? " " : "") + `${field}: ${fieldError(error)}`;
          continue;
        }
      }
      if (place && said.has(place)) continue;
      if (place) place.textContent += (place.textContent ? " " : "") + fieldError(error);
      else loose.push(`${field}: ${fieldError(error)}`);
    }
    if (loose.length) $("post-errors").textContent = loose.join("; ");
    else if (!errors.length) $("post-errors").textContent = problemText(body, fallback);
  }

  // An upload the server refused (its `errors` name the request's `file`): worded by its
  // code (words.js fieldError), under the form's field the file was for, focused.
  function uploadRefused(field, body, file) {
    const place = document.querySelector(`#post-form [data-field="${field}"]`);
    const words = problemText(body, t("Upload failed."));
    place.textContent = file ? `${file.name}: ${words}` : words;
    focusFirstError($("post-form"));
  }

  // Uploads one file resumably (tus, web/uploads.js): progress bar and percentage,
  // Pause/Resume and Cancel, resumed after a dropped connection. With no file, the
  // video chosen from "Your media" is used as it is. Resolves to the same shape as api().
  function uploadFile(file) {
    const reused = window.CachalotUploads.reused();
    if (!file && reused) return Promise.resolve({ status: 201, ok: true, body: reused });
    return window.CachalotUploads.upload(file);
  }

  // The consent form's own field errors in the page's language (auth's ConsentIn).
  function showConsentErrors(body) {
    const errors = body && Array.isArray(body.errors) ? body.errors : [];
    const email = errors.find((e) => e.field === "email");
    if (email) flash("bad", t("Write a valid e-mail address."));
    else if (errors.some((e) => e.field === "adult")) flash("bad", t("Confirm you are 18 or older to continue."));
    else flash("bad", problemText(body, t("Could not save.")));
  }

  // What only the browser can see before any upload (a file chosen, the accounts ticked,
  // a time half filled in, how many images, what the composer asks of a person: TikTok's
  // creator settings and disclosure, YouTube's made-for-kids answer). Every rule of the
  // server is checked by the server itself (POST /api/v1/posts/check) before the upload.
  // Writes each problem under its field; true when there is none.
  function checkForm(kind, chosen) {
    let fine = true;
    const say = (place, words) => {
      if (!place) return;
      place.textContent += (place.textContent ? " " : "") + words;
      fine = false;
    };
    if (kind === "video" && !$("video").files[0] && !window.CachalotUploads.reused()) say(document.querySelector('[data-field="media_id"]'), t("Choose a video first."));
    if (kind === "photo") {
      const count = picked.length + $("image-upload").files.length;
      if (!count) say(document.querySelector('[data-field="image_ids"]'), t("Choose or add at least one image."));
    }
    if (!chosen.length) { $("post-errors").textContent = t("Choose at least one account."); fine = false; }
    const partial = window.CachalotWhen.problem($("when"));
    if (partial) say(document.querySelector('[data-field="scheduled_at"]'), partial);
    for (const box of chosen) {
      const row = box.closest(".target");
      const spec = (catalogue || {})[box.dataset.platform];
      if (kind === "photo" && spec && spec.max_images) {
        const count = picked.length + $("image-upload").files.length;
        if (count > spec.max_images) {
          say(row.querySelector('[data-error=""]'), t("{platform} takes at most {max} images; {count} are chosen.", { platform: spec.label, max: spec.max_images, count, n: count }));
        }
      }
      for (const [name, words] of window.CachalotComposer ? window.CachalotComposer.check(row) : []) {
        say(row.querySelector(`[data-error="${name}"]`) || row.querySelector('[data-error=""]'), words);
      }
    }
    return fine;
  }

  // The post as the form holds it, without the files still to be uploaded (a video or
  // images chosen from "Your media" are in it already).
  function draftPost(kind, chosen) {
    const payload = { kind };
    const reused = window.CachalotUploads.reused();
    if (kind === "video" && reused && !$("video").files[0]) payload.media_id = reused.id;
    if (kind === "photo" && picked.length) payload.image_ids = [...picked];
    if (kind === "article") {
      payload.article = { title: $("article-title").value, body_html: $("article-body").value };
      if (!$("cover-upload").files[0] && $("article-cover").value) payload.article.cover_media_id = $("article-cover").value;
    }
    payload.targets = chosen.map((box) => {
      const target = { account_id: box.value };
      const fieldset = box.closest(".target").querySelector("fieldset.block");
      if (fieldset) target[box.dataset.platform] = blockValue(fieldset);
      if (fieldset && window.CachalotComposer) {
        window.CachalotComposer.adjust(box.closest(".target"), target[box.dataset.platform]);
      }
      return target;
    });
    const when = $("when").value;
    if (when) payload.scheduled_at = new Date(when).toISOString();
    return payload;
  }

  // The post whose answer never came (the connection lost, the queue away for longer than
  // the page waits): Queue again with the same body sends the same Idempotency-Key, so a
  // post the queue stored meanwhile is answered, never made twice (fresh12k).
  let unanswered = null; // {body: canonical(payload), key}
  // The post's body as one text whatever order its fields were set in (the video's id is
  // set after the upload on the first Queue, by draftPost when reused on the next).
  const canonical = (value) => JSON.stringify(value, (name, part) => (
    part && typeof part === "object" && !Array.isArray(part)
      ? Object.fromEntries(Object.entries(part).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : part));
  const waitingToQueue = () => {
    $("upload-progress").textContent = t("Waiting for the server to queue the post; it goes on by itself…");
  };

  $("post-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    unflash();
    const kind = chosenKind();
    const chosen = [...document.querySelectorAll('input[name="target"]:checked:enabled')];
    const sent = chosen.map((box) => box.value);
    const seen = checkForm(kind, chosen);
    $("queue-button").disabled = true;
    try {
      // the server's rules, from the server, before a byte is uploaded; a field the
      // browser already spoke about keeps the browser's words
      const payload = draftPost(kind, chosen);
      let uploaded = null; // the video this Queue stored (kept for the next one if refused)
      if (chosen.length) {
        const checked = await window.CachalotUploads.untilAnswered(() => api("/api/v1/posts/check", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(payload),
        }), { onWait: waitingToQueue });
        $("upload-progress").textContent = "";
        if (checked.status !== 204) {
          showErrors(checked.body, t("Could not queue the post."), sent, { keepSaid: true });
          focusFirstError($("post-form"));
          return;
        }
      }
      if (!seen) { focusFirstError($("post-form")); return; } // nothing is uploaded for a form that cannot go
      if (kind === "video" && !payload.media_id) {
        const media = await uploadFile($("video").files[0]);
        if (media.status !== 201) {
          // the server's refusal of the file at the video's field; a cancel, a lost
          // connection or a server error under the form, as before
          const refused = media.body && Array.isArray(media.body.errors) && media.body.errors.length;
          if (refused) uploadRefused("media_id", media.body);
          else showErrors(media.body, t("Upload failed."), []);
          return;
        }
        payload.media_id = media.body.id;
        uploaded = media.body;
        loadMedia();
      } else if (kind === "photo") {
        for (const file of $("image-upload").files) {
          const media = await uploadFile(file);
          if (media.status !== 201) { uploadRefused("image_ids", media.body, file); return; }
          picked.push(media.body.id);
        }
        $("image-upload").value = "";
        payload.image_ids = [...picked];
      } else if (kind === "article") {
        const file = $("cover-upload").files[0];
        if (file) {
          const media = await uploadFile(file);
          if (media.status !== 201) { uploadRefused("article.cover_media_id", media.body); return; }
          payload.article.cover_media_id = media.body.id;
        }
      }
      // a queue restarting now is waited out, as during the upload; one key for every
      // try, so a post stored before its answer was lost is answered, not made twice
      const body = JSON.stringify(payload);
      const same = canonical(payload);
      const key = unanswered && unanswered.body === same ? unanswered.key : crypto.randomUUID();
      const res = await window.CachalotUploads.untilAnswered(() => api("/api/v1/posts", {
        method: "POST",
        headers: { "content-type": "application/json", "Idempotency-Key": key },
        body,
      }), { onWait: waitingToQueue });
      $("upload-progress").textContent = "";
      unanswered = res.status === 0 || res.status >= 500 ? { body: same, key } : null; // stored or not
      if (res.status === 201 || res.status === 200) {
        flash("ok", t("Queued."));
        const ticked = new Set(sent);
        $("post-form").reset();
        // the "Post to" ticks stay as they were: the next post usually goes to the same accounts
        for (const box of document.querySelectorAll('#targets input[name="target"]')) {
          box.checked = ticked.has(box.value);
        }
        picked = [];
        await Promise.all([loadPosts(), loadMedia()]); // "Your media" counts posts per file
        applyKind();
      } else {
        // the video is stored: the next Queue uses it from "Your media", never sends it again
        if (uploaded && $("video").files[0]) {
          $("video").value = "";
          window.CachalotUploads.reuse(uploaded);
        }
        showErrors(res.body, t("Could not queue the post."), sent);
        focusFirstError($("post-form"));
      }
    } catch (error) { // never a silent page (fresh12k: a lost answer said nothing)
      flash("bad", t("Could not queue the post."));
      throw error;
    } finally {
      $("queue-button").disabled = false;
      show("upload-bar", false);
    }
  });

  loginLinks($("signin-buttons"), false);
  loginLinks($("connect-buttons"), true);
  authErrorFromUrl();
  loadMe();
  $("posts-more").addEventListener("click", loadMorePosts);
  $("posts-zone").textContent = t("Times are in your time zone, {zone}.", { zone: ZONE });
  window.CachalotWhen.upgrade($("when")); // the composer's publish time in the page's language
  $("posts-order").addEventListener("change", async () => {
    forgetPosts();
    await loadPosts();
  });
  // What changes behind the page's back (a post's status and progress, an account
  // revoked or needing a reconnect, a proposal) is pushed by the server (web/live.js): a status
  // event is written into the post's row as it is; a post this page has not seen
  // yet, an account change, or a reconnect that could not resume re-reads the lists.
  // The lists are refreshed on a timer only while the stream is down (live.js).
  // An operator's proposal made or changed (by the operator, or by this client in
  // another tab) re-reads the proposals, once for a burst (a delivery of several).
  let refreshing = null;
  let proposalsDue = null;
  function loadProposals() {
    if (proposalsDue) return;
    proposalsDue = setTimeout(() => {
      proposalsDue = null;
      if (window.CachalotProposals) window.CachalotProposals.load();
    }, 300);
  }
  function refreshLists() {
    if ($("posts").classList.contains("hidden")) return Promise.resolve();
    if (!refreshing) {
      loadProposals();
      refreshing = Promise.all([loadPosts(), loadAccounts({ refresh: true })])
        .finally(() => { refreshing = null; });
    }
    return refreshing;
  }
  let unseenPosts = null; // one list read for a burst of events about unseen posts
  const editedPosts = new Map(); // post id → its read again, once for a burst (an event per target)
  function readAgain(id) {
    if (editedPosts.has(id)) return;
    editedPosts.set(id, setTimeout(async () => {
      editedPosts.delete(id);
      const one = await api(`/api/v1/posts/${id}`);
      if (!one.ok || !posts.has(id)) return;
      keepPost(one.body);
      renderPosts();
      document.dispatchEvent(new CustomEvent("cachalot:post-changed", { detail: one.body }));
    }, 300));
  }
  function applyStatus(event) {
    const post = posts.get(event.post_id);
    const target = post && post.targets.find((t) => t.id === event.target_id);
    if (!target) {
      if (!unseenPosts) unseenPosts = setTimeout(() => { unseenPosts = null; loadPosts(); }, 300);
      return;
    }
    // an edit made elsewhere (a new time, new settings): the queue announces it as the
    // target's status again (previous == status) without progress bytes
    if (event.previous === event.status && event.bytes_total == null) {
      readAgain(event.post_id);
      return;
    }
    const at = instant(event.occurred_at);
    if (older(target.id, at)) return; // older than what is shown (a late or replayed event)
    target.status = event.status;
    if (event.bytes_total != null) {
      target.bytes_total = event.bytes_total;
      target.bytes_sent = event.bytes_sent;
    }
    if (event.remote_url) target.remote_url = event.remote_url;
    if (event.status === "published") { target.last_error = null; target.last_error_code = null; }
    else if (event.reason) { target.last_error = event.reason; target.last_error_code = event.code || null; }
    remember(target, at);
    renderPosts();
  }
  window.CachalotLive.start({
    status: applyStatus,
    account: () => loadAccounts({ refresh: true }),
    proposal: loadProposals,
    reload: refreshLists,
    refresh: refreshLists,
    ended: loadMe,
  });
})();
