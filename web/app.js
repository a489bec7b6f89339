// The client dashboard: sign in, connect accounts, upload a video, queue it
// for TikTok/YouTube and follow each target's status. Plain JS, no build
// step: every call goes to the same origin's /api/v1 (gateway or embedded).
"use strict";
(function () {
  const PLATFORMS = [
    ["tiktok", "TikTok"], ["youtube", "YouTube"], ["instagram", "Instagram"],
    ["vk", "VK"], ["telegram", "Telegram"],
  ];
  const $ = (id) => document.getElementById(id);
  const show = (id, on) => $(id).classList.toggle("hidden", !on);
  let accounts = [];

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
    for (const item of res.body.items || []) {
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
        if (!confirm("Delete this video? Posts made from it keep their history.")) return;
        const res2 = await api(`/api/v1/media/${item.id}`, { method: "DELETE" });
        flash(res2.ok ? "ok" : "bad", res2.ok ? "Video deleted." : problemText(res2.body, "Could not delete."));
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
      if (account.needs_channel) {
        // Telegram: our bot posts to a channel the client links (and links again if it broke).
        if (account.status_reason) status.title = account.status_reason;
        const link = document.createElement("button");
        link.textContent = "Link a channel";
        link.onclick = async () => {
          const channel = prompt(
            "Add our bot to your channel as an administrator with the right to post messages, " +
            "then enter the channel's @username or its -100… id:");
          if (!channel) return;
          const res2 = await api(`/api/v1/accounts/${account.id}/telegram-channel`, {
            method: "PUT",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ channel: channel.trim() }),
          });
          flash(res2.ok ? "ok" : "bad", res2.ok ? "Channel linked." : problemText(res2.body, "Could not link the channel."));
          await loadAccounts();
        };
        actions.appendChild(link);
      } else if (account.status !== "ok") {
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
    const targets = $("targets");
    targets.textContent = "";
    for (const account of accounts.filter((a) => a.platform === "tiktok" || a.platform === "youtube")) {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = account.id;
      box.dataset.platform = account.platform;
      box.name = "target";
      box.checked = account.status === "ok";
      label.appendChild(box);
      label.append(` ${account.platform}: ${account.display_name || account.id}`);
      targets.appendChild(label);
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
        row.insertCell().textContent = target.platform;
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
          actions.textContent = "video deleted";
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

  $("post-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("post-errors").textContent = "";
    const file = $("video").files[0];
    const chosen = [...document.querySelectorAll('input[name="target"]:checked')];
    if (!file) { $("post-errors").textContent = "Choose a video first."; return; }
    if (!chosen.length) { $("post-errors").textContent = "Choose at least one account."; return; }
    $("queue-button").disabled = true;
    $("upload-progress").textContent = "uploading…";
    try {
      const media = await api("/api/v1/media", {
        method: "POST",
        headers: { "content-type": file.type || "application/octet-stream" },
        body: file,
      });
      if (media.status !== 201) { $("post-errors").textContent = problemText(media.body, "Upload failed."); return; }
      loadMedia();
      const targets = chosen.map((box) => {
        const target = { account_id: box.value };
        if (box.dataset.platform === "tiktok") {
          target.tiktok = { caption: $("tt-caption").value, privacy_level: $("tt-privacy").value };
        } else {
          target.youtube = {
            title: $("yt-title").value, description: $("yt-description").value,
            privacy_status: $("yt-privacy").value,
          };
        }
        return target;
      });
      const when = $("when").value;
      const payload = { media_id: media.body.id, targets };
      if (when) payload.scheduled_at = new Date(when).toISOString();
      const res = await api("/api/v1/posts", {
        method: "POST",
        headers: { "content-type": "application/json", "Idempotency-Key": crypto.randomUUID() },
        body: JSON.stringify(payload),
      });
      if (res.status === 201 || res.status === 200) {
        flash("ok", "Queued.");
        $("post-form").reset();
        await Promise.all([loadPosts(), loadMedia()]); // "Your media" counts posts per video
      } else {
        $("post-errors").textContent = problemText(res.body, "Could not queue the post.");
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
