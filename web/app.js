// The client dashboard: sign in, connect accounts, compose a video, photo post
// or article, queue it for the connected accounts whose platform takes it and
// follow each target's status. Plain JS, no build step: every call goes to the
// same origin's /api/v1 (gateway or embedded). What each platform takes and
// the fields of its block come from the queue's registry
// (GET /api/v1/posts/platforms: kinds, JSON Schema of targets[i].<platform>).
"use strict";
(function () {
  const PLATFORMS = [
    ["tiktok", "TikTok"], ["youtube", "YouTube"], ["instagram", "Instagram"],
    ["vk", "VK"], ["telegram", "Telegram"],
  ];
  const $ = (id) => document.getElementById(id);
  const show = (id, on) => $(id).classList.toggle("hidden", !on);
  let accounts = [];
  let catalogue = null; // platform name → {label, publishable, kinds, max_images, fields}
  let images = []; // the client's uploaded images (media items), newest first
  let picked = []; // image ids of the photo post, in the order ticked
  const KIND_WORDS = { video: "video", photo: "photo", article: "article" };

  function flash(kind, text) {
    const el = $("flash");
    el.className = "notice " + kind;
    el.textContent = text;
  }

  async function api(path, options = {}) {
    const response = await fetch(path, { credentials: "same-origin", ...options });
    let body = null;
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) body = await response.json().catch(() => null);
    return { status: response.status, ok: response.ok, body, headers: response.headers };
  }

  function problemText(body, fallback) {
    if (!body) return fallback;
    if (Array.isArray(body.errors) && body.errors.length) {
      return body.errors.map((e) => `${e.field}: ${e.message}`).join("; ");
    }
    return body.detail || fallback;
  }

  function loginLinks(container, label) {
    container.textContent = "";
    for (const [key, name] of PLATFORMS) {
      const link = document.createElement("a");
      link.className = "button" + (label ? " secondary" : "");
      link.href = `/api/v1/auth/${key}/login?next=/`;
      link.textContent = label ? name : `Sign in with ${name}`;
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
      `You declined access on ${name}. To connect it, sign in again and allow access.`,
    missing_scopes: (name) =>
      `${name} was connected without some of the permissions CACHALOT needs. ` +
      "Sign in again and keep every permission ticked.",
    state_missing: () => "This sign-in was not started from this browser. Start it again here.",
    state_invalid: () => "This sign-in link is not valid for this browser. Start the sign-in again.",
    state_expired: () => "The sign-in took longer than 10 minutes. Start it again.",
    state_mismatch: () =>
      "This sign-in does not match the one this browser started. Start it again.",
    state_replayed: () => "This sign-in link was already used. Start the sign-in again.",
    code_missing: (name) => `${name} did not send the sign-in code back. Start the sign-in again.`,
    sign_in_failed: (name) =>
      `${name} refused the sign-in. Start it again; if it keeps failing, contact us.`,
    platform_unavailable: (name) => `${name} is not answering right now. Try again in a few minutes.`,
    account_in_use: (name, known) =>
      (known ? `This ${name} account` : "This account") +
      " is already connected to another CACHALOT client. " +
      `Sign out and sign in with it, or use another ${known ? `${name} ` : ""}account.`,
    not_configured: (name) => `Sign-in with ${name} is not set up on this server. Contact us.`,
  };
  const GENERIC_SIGN_IN_ERROR = (name) =>
    `Sign-in with ${name} did not complete. Start it again; if it keeps failing, contact us.`;

  function platformName(key) {
    const known = PLATFORMS.find(([k]) => k === key);
    return known ? known[1] : null;
  }

  // `known`: the platform is one of ours; otherwise `name` is "the platform"
  // (the query's value is never shown) and a message words itself to suit.
  function signInMessage(code, platform) {
    const known = platformName(platform) !== null;
    const name = platformName(platform) || "the platform";
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
      flash("ok", name ? `Connected ${name}.` : "Account connected.");
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
      return;
    }
    const client = me.body || {};
    show("signin", false);
    show("logout", true);
    $("who").textContent = client.email || "signed in";
    const consented = Boolean(client.adult_confirmed_at || client.adult_confirmed) && Boolean(client.email);
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

  function formatBytes(n) {
    const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
  }

  // The client's videos with the room they take: a video no unfinished post needs
  // can be deleted to free its share of the quota.
  async function loadMedia() {
    const res = await api("/api/v1/media?limit=100");
    const body = $("media-body");
    body.textContent = "";
    if (!res.ok) return;
    $("media-usage").textContent =
      `${formatBytes(res.body.used_bytes)} used of ${formatBytes(res.body.quota_bytes)}.`;
    images = (res.body.items || []).filter((m) => m.content_type.startsWith("image/"));
    renderImageChoices();
    for (const item of res.body.items || []) {
      const isImage = item.content_type.startsWith("image/");
      const row = body.insertRow();
      row.dataset.media = item.id;
      row.insertCell().textContent = new Date(item.created_at).toLocaleString();
      row.insertCell().textContent = formatBytes(item.size);
      row.insertCell().textContent = item.content_type;
      const busy = item.needed_by.length;
      row.insertCell().textContent =
        `${item.posts.length}` + (busy ? ` (${busy} not finished)` : "");
      const remove = document.createElement("button");
      remove.className = "secondary";
      remove.textContent = "Delete";
      remove.onclick = async () => {
        const what = isImage ? "image" : "video";
        if (!confirm(`Delete this ${what}? Posts made with it keep their history.`)) return;
        const res2 = await api(`/api/v1/media/${item.id}`, { method: "DELETE" });
        const done = isImage ? "Image deleted." : "Video deleted.";
        flash(res2.ok ? "ok" : "bad", res2.ok ? done : problemText(res2.body, "Could not delete."));
        await loadMedia();
      };
      row.insertCell().appendChild(remove);
    }
  }

  async function loadAccounts() {
    const res = await api("/api/v1/accounts");
    accounts = res.ok ? (Array.isArray(res.body) ? res.body : (res.body && res.body.items) || []) : [];
    const body = $("accounts-body");
    body.textContent = "";
    for (const account of accounts) {
      const row = body.insertRow();
      row.insertCell().textContent = account.platform;
      row.insertCell().textContent = account.display_name || "—";
      const status = row.insertCell();
      status.textContent = account.status;
      status.className = "status " + account.status;
      row.insertCell().textContent = (account.scopes || []).join(", ");
      const actions = row.insertCell();
      if (account.status !== "ok") {
        const again = document.createElement("a");
        again.className = "button secondary";
        again.href = `/api/v1/auth/${account.platform}/login?next=/`;
        again.textContent = "Reconnect";
        actions.appendChild(again);
      }
      const remove = document.createElement("button");
      remove.className = "secondary";
      remove.textContent = "Disconnect";
      remove.onclick = async () => {
        const res2 = await api(`/api/v1/accounts/${account.id}`, { method: "DELETE" });
        flash(res2.ok ? "ok" : "bad", res2.ok ? "Disconnected." : problemText(res2.body, "Could not disconnect."));
        await loadMe();
      };
      actions.appendChild(remove);
    }
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
    if (!spec || !spec.publishable) return `Publishing to ${name} is not supported yet.`;
    if (!spec.kinds.includes(kind)) {
      const takes = spec.kinds.map((k) => KIND_WORDS[k]).join(" or ");
      return `${spec.label} cannot take ${KIND_WORDS[kind]} posts; it takes ${takes} posts`;
    }
    return "";
  }

  // One form control per property of the platform's block (its JSON Schema):
  // an enum is a select, a boolean a checkbox, a number a number box, a list a
  // comma-separated line, text a line or (captions, descriptions, messages) a box.
  // A field named for another kind (photo_title, video_cover_timestamp_ms,
  // article_as) is shown only with its kind.
  function fieldFor(account, name, prop, required) {
    const wrap = document.createElement("div");
    wrap.className = "block-field";
    const forKind = ["video", "photo", "article"].find((k) => name.startsWith(k + "_"));
    if (forKind) wrap.dataset.kind = forKind;
    const id = `f-${account.id}-${name}`;
    const type = prop.type || ((prop.anyOf || []).map((p) => p.type).find((t) => t !== "null")) || "string";
    let input;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = (prop.title || name) + (required ? " (required)" : "");
    if (prop.enum) {
      input = document.createElement("select");
      for (const value of prop.enum) {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = value;
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
      label.append(` ${prop.title || name}`);
      wrap.appendChild(label);
    } else {
      wrap.appendChild(label);
      wrap.appendChild(input);
    }
    if (prop.description) {
      const hint = document.createElement("div");
      hint.className = "muted hint";
      hint.textContent = prop.description;
      wrap.appendChild(hint);
    }
    const error = document.createElement("div");
    error.className = "field-error";
    error.dataset.error = name;
    wrap.appendChild(error);
    return wrap;
  }

  function blockValue(fieldset) {
    const block = {};
    for (const input of fieldset.querySelectorAll("[name]")) {
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
    const before = new Set([...targets.querySelectorAll('input[name="target"]')]
      .filter((b) => !b.checked).map((b) => b.value));
    targets.textContent = "";
    for (const account of accounts) {
      const spec = specs[account.platform];
      const name = (spec && spec.label) || platformName(account.platform) || account.platform;
      const row = document.createElement("div");
      row.className = "target";
      row.dataset.account = account.id;
      row.dataset.platform = account.platform;
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = account.id;
      box.dataset.platform = account.platform;
      box.name = "target";
      box.defaultChecked = box.checked = account.status === "ok" && !before.has(account.id);
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
      }
      box.addEventListener("change", applyKind);
      targets.appendChild(row);
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
      const why = refusal(spec, name, kind);
      const box = row.querySelector('input[name="target"]');
      box.disabled = Boolean(why);
      row.classList.toggle("disabled", Boolean(why));
      row.querySelector(".reason").textContent = why;
      const fieldset = row.querySelector("fieldset.block");
      if (fieldset) {
        fieldset.classList.toggle("hidden", Boolean(why) || !box.checked);
        for (const field of fieldset.querySelectorAll(".block-field[data-kind]")) {
          field.classList.toggle("hidden", field.dataset.kind !== kind);
        }
      }
    }
  }

  function renderImageChoices() {
    const box = $("image-choices");
    picked = picked.filter((id) => images.some((m) => m.id === id));
    box.textContent = images.length ? "" : "No images uploaded yet.";
    for (const image of images) {
      const label = document.createElement("label");
      label.className = "image-choice";
      const tick = document.createElement("input");
      tick.type = "checkbox";
      tick.value = image.id;
      tick.name = "image";
      tick.checked = picked.includes(image.id);
      tick.addEventListener("change", () => {
        picked = tick.checked ? [...picked, image.id] : picked.filter((id) => id !== image.id);
        renderImageChoices();
      });
      label.appendChild(tick);
      label.append(` ${new Date(image.created_at).toLocaleString()} · ${formatBytes(image.size)}`);
      const order = document.createElement("span");
      order.className = "order";
      order.textContent = picked.includes(image.id) ? `#${picked.indexOf(image.id) + 1}` : "";
      label.appendChild(order);
      box.appendChild(label);
    }
    const cover = $("article-cover");
    const chosen = cover.value;
    cover.textContent = "";
    const none = document.createElement("option");
    none.value = "";
    none.textContent = "No cover";
    cover.appendChild(none);
    for (const image of images) {
      const option = document.createElement("option");
      option.value = image.id;
      option.textContent = `${new Date(image.created_at).toLocaleString()} · ${formatBytes(image.size)}`;
      option.selected = image.id === chosen;
      cover.appendChild(option);
    }
  }

  async function loadPosts() {
    const res = await api("/api/v1/posts");
    const body = $("posts-body");
    body.textContent = "";
    if (!res.ok) return;
    for (const post of res.body.items || []) {
      for (const target of post.targets) {
        const row = body.insertRow();
        row.insertCell().textContent = new Date(post.created_at).toLocaleString();
        row.insertCell().textContent =
          target.platform + (post.kind && post.kind !== "video" ? ` (${post.kind === "photo" ? "photo post" : "article"})` : "");
        const status = row.insertCell();
        let text = target.status;
        if (target.status === "publishing" && target.bytes_total) {
          text += ` ${Math.round((100 * (target.bytes_sent || 0)) / target.bytes_total)}%`;
        }
        status.textContent = text;
        status.className = "status " + target.status;
        const result = row.insertCell();
        if (target.remote_url) {
          const link = document.createElement("a");
          link.href = target.remote_url;
          link.textContent = "open";
          link.target = "_blank";
          result.appendChild(link);
        } else {
          result.textContent = target.last_error || "";
        }
        const actions = row.insertCell();
        if (target.status === "scheduled" || target.status === "paused") {
          const cancel = document.createElement("button");
          cancel.className = "secondary";
          cancel.textContent = "Cancel";
          cancel.onclick = async () => { await api(`/api/v1/posts/${post.id}/cancel`, { method: "POST" }); loadPosts(); };
          actions.appendChild(cancel);
        }
        if (target.status === "failed" && post.media_deleted) {
          actions.textContent = post.kind && post.kind !== "video" ? "media deleted" : "video deleted";
          actions.className = "muted";
        } else if (target.status === "failed") {
          const retry = document.createElement("button");
          retry.className = "secondary";
          retry.textContent = "Retry";
          retry.onclick = async () => { await api(`/api/v1/posts/${post.id}/retry`, { method: "POST" }); loadPosts(); };
          actions.appendChild(retry);
        }
      }
    }
  }

  $("consent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const res = await api("/api/v1/me/consent", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: $("email").value, adult: $("adult").checked }),
    });
    if (res.ok) { flash("ok", "Thank you."); await loadMe(); }
    else flash("bad", problemText(res.body, "Could not save."));
  });

  $("logout").addEventListener("click", async () => {
    await api("/api/v1/auth/logout", { method: "POST" });
    await loadMe();
  });

  $("erase").addEventListener("click", async () => {
    if (!confirm("Delete your account, your connected accounts and your posts? This cannot be undone.")) return;
    const res = await api("/api/v1/me", { method: "DELETE" });
    flash(res.ok ? "ok" : "bad", res.ok ? "Your data was deleted." : problemText(res.body, "Could not delete."));
    await loadMe();
  });

  for (const radio of document.querySelectorAll('input[name="kind"]')) {
    radio.addEventListener("change", applyKind);
  }

  function clearErrors() {
    for (const el of document.querySelectorAll("#post-form .field-error")) el.textContent = "";
  }

  // Each server error under the field it names (`image_ids[2]`, `article.body_html`,
  // `targets[1].tiktok.caption`, `targets[0].account_id`); what names no field shown
  // here goes to the form's own line.
  function showErrors(body, fallback, sent) {
    const errors = body && Array.isArray(body.errors) ? body.errors : [];
    const loose = [];
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
          place.textContent += (place.textContent ? " " : "") + `${field}: ${error.message}`;
          continue;
        }
      }
      if (place) place.textContent += (place.textContent ? " " : "") + error.message;
      else loose.push(`${field}: ${error.message}`);
    }
    if (loose.length) $("post-errors").textContent = loose.join("; ");
    else if (!errors.length) $("post-errors").textContent = problemText(body, fallback);
  }

  async function uploadFile(file) {
    const media = await api("/api/v1/media", {
      method: "POST",
      headers: { "content-type": file.type || "application/octet-stream" },
      body: file,
    });
    return media;
  }

  $("post-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const kind = chosenKind();
    const chosen = [...document.querySelectorAll('input[name="target"]:checked:enabled')];
    const payload = { kind };
    if (kind === "video" && !$("video").files[0]) {
      document.querySelector('[data-field="media_id"]').textContent = "Choose a video first.";
      return;
    }
    if (kind === "photo" && !picked.length && !$("image-upload").files.length) {
      document.querySelector('[data-field="image_ids"]').textContent = "Choose or add at least one image.";
      return;
    }
    if (!chosen.length) { $("post-errors").textContent = "Choose at least one account."; return; }
    $("queue-button").disabled = true;
    $("upload-progress").textContent = "uploading…";
    try {
      if (kind === "video") {
        const media = await uploadFile($("video").files[0]);
        if (media.status !== 201) { showErrors(media.body, "Upload failed.", []); return; }
        payload.media_id = media.body.id;
        loadMedia();
      } else if (kind === "photo") {
        for (const file of $("image-upload").files) {
          const media = await uploadFile(file);
          if (media.status !== 201) {
            document.querySelector('[data-field="image_ids"]').textContent =
              `${file.name}: ${problemText(media.body, "Upload failed.")}`;
            return;
          }
          picked.push(media.body.id);
        }
        $("image-upload").value = "";
        payload.image_ids = [...picked];
      } else {
        payload.article = { title: $("article-title").value, body_html: $("article-body").value };
        const file = $("cover-upload").files[0];
        if (file) {
          const media = await uploadFile(file);
          if (media.status !== 201) {
            document.querySelector('[data-field="article.cover_media_id"]').textContent =
              problemText(media.body, "Upload failed.");
            return;
          }
          payload.article.cover_media_id = media.body.id;
        } else if ($("article-cover").value) {
          payload.article.cover_media_id = $("article-cover").value;
        }
      }
      const sent = chosen.map((box) => box.value);
      payload.targets = chosen.map((box) => {
        const target = { account_id: box.value };
        const fieldset = box.closest(".target").querySelector("fieldset.block");
        if (fieldset) target[box.dataset.platform] = blockValue(fieldset);
        return target;
      });
      const when = $("when").value;
      if (when) payload.scheduled_at = new Date(when).toISOString();
      const res = await api("/api/v1/posts", {
        method: "POST",
        headers: { "content-type": "application/json", "Idempotency-Key": crypto.randomUUID() },
        body: JSON.stringify(payload),
      });
      if (res.status === 201 || res.status === 200) {
        flash("ok", "Queued.");
        $("post-form").reset();
        picked = [];
        await Promise.all([loadPosts(), loadMedia()]); // "Your media" counts posts per file
        applyKind();
      } else {
        showErrors(res.body, "Could not queue the post.", sent);
      }
    } finally {
      $("queue-button").disabled = false;
      $("upload-progress").textContent = "";
    }
  });

  loginLinks($("signin-buttons"), false);
  loginLinks($("connect-buttons"), true);
  authErrorFromUrl();
  loadMe();
  setInterval(() => { if (!$("posts").classList.contains("hidden")) loadPosts(); }, 2000);
})();
