// The schedule (issue 12 item 4): every post, soonest first, with its picture,
// text, accounts and time in the client's time zone (named), and a week and a
// month calendar (FullCalendar's standard bundle, web/vendor/). A post not yet
// handed to a publisher is moved by dragging it to another day or time, or by
// "Change time" (keyboard); each target has its own Edit, Cancel, Retry and, once
// failed, "Edit and queue again" (app.js's editor). Changes go through the API
// (PATCH /api/v1/posts/{id}, .../targets/{id}/cancel|retry), which checks them by
// the rules of creation. app.js announces every refresh of its posts with a
// "cachalot:posts" event; what changed is merged here without rebuilding the rest.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const { t, lang: LANG, locale: LOCALE } = window.I18N; // web/i18n.js
  const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const WHEN = new Intl.DateTimeFormat(LOCALE, { dateStyle: "full", timeStyle: "short", timeZone: ZONE });
  const OPEN = new Set(["scheduled", "paused"]);
  const platformName = (key) => window.CachalotWords.platform(key); // web/words.js
  const posts = new Map(); // id → post (PostPublic)
  const signatures = new Map(); // id → what the shown item was built from
  const accounts = new Map(); // id → account
  const media = new Map(); // id → media item
  let calendar = null;
  let loading = null;

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("data-") || key.startsWith("aria-") || key === "for" || key === "role") {
        node.setAttribute(key, value);
      } else node[key] = value;
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  async function api(path, options = {}) {
    const response = await fetch(path, { credentials: "same-origin", ...options });
    const body = (response.headers.get("content-type") || "").includes("json")
      ? await response.json().catch(() => null) : null;
    return { ok: response.ok, status: response.status, body };
  }

  // a refusal in the page's language, each error by its type (web/words.js)
  const words = (body, fallback) => window.CachalotWords.problem(body, fallback);

  function say(kind, text) {
    const line = $("schedule-status");
    line.className = `notice ${kind}`;
    line.textContent = text;
  }

  // What a post says, for the list and the calendar: its first text of any target.
  function textOf(post) {
    if (post.article && post.article.title) return post.article.title;
    for (const target of post.targets) {
      const o = target.options || {};
      for (const key of ["title", "caption", "message", "photo_title", "description"]) {
        if (typeof o[key] === "string" && o[key].trim()) {
          return new DOMParser().parseFromString(`<body>${o[key]}</body>`, "text/html").body.textContent.trim();
        }
      }
    }
    return post.kind === "photo" ? t("Photo post") : post.kind === "article" ? t("Article") : t("Video");
  }

  function accountName(target) {
    const account = accounts.get(target.account_id);
    const platform = platformName(target.platform);
    return account && account.display_name ? `${platform} · ${account.display_name}` : platform;
  }

  const isOpen = (post) => post.targets.some((t) => OPEN.has(t.status));

  function localInput(iso) {
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function thumbnail(post) {
    const item = media.get(post.media_id || (post.image_ids || [])[0] || (post.article || {}).cover_media_id);
    // the media library's small picture (GET /api/v1/media/{id}/thumbnail, web/uploads.js)
    const url = item && (item.thumbnail_url || `/api/v1/media/${encodeURIComponent(item.id)}/thumbnail`);
    if (url) return el("img", { class: "thumb", src: url, alt: "" });
    const glyph = post.kind === "article" ? t("Article") : post.kind === "photo" ? t("Photo") : t("Video");
    return el("div", { class: `thumb none kind-${post.kind || "video"}`, "aria-hidden": "true", text: glyph });
  }

  async function reschedule(post, when) {
    const res = await api(`/api/v1/posts/${post.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ scheduled_at: when.toISOString() }),
    });
    if (res.ok && res.body) {
      merge([res.body]);
      say("ok", t("Moved to {when}.", { when: WHEN.format(new Date(res.body.scheduled_at)) }));
      return "";
    }
    return words(res.body, t("Could not move the post."));
  }

  const VERB_DONE = {
    cancel: () => t("Cancelled."),
    retry: () => t("Queued again."),
    "publish-again": () => t("Queued again."),
    "mark-published": () => t("Marked as published."),
  };
  const VERB_FAILED = {
    cancel: () => t("Could not cancel."),
    retry: () => t("Could not retry."),
    "publish-again": () => t("Could not publish it again."),
    "mark-published": () => t("Could not mark it as published."),
  };

  async function targetVerb(post, target, verb) {
    const options = { method: "POST" };
    if (verb === "mark-published") {
      options.headers = { "content-type": "application/json" };
      options.body = "{}";
    }
    const res = await api(`/api/v1/posts/${post.id}/targets/${target.id}/${verb}`, options);
    if (res.ok && res.body) {
      merge([res.body]);
      say("ok", VERB_DONE[verb]());
    } else say("bad", words(res.body, VERB_FAILED[verb]()));
  }

  function editor(post, target, requeue) {
    if (window.CachalotDashboard) window.CachalotDashboard.openEditor(posts.get(post.id) || post, target.id, { requeue });
  }

  function buildItem(post) {
    const item = el("li", { class: "scheduled-post", "data-post": post.id });
    const time = el("time", { dateTime: post.scheduled_at, class: "when", text: `${WHEN.format(new Date(post.scheduled_at))} (${ZONE})` });
    const body = el("div", { class: "body" }, time, el("p", { class: "text", text: textOf(post) }));
    const list = el("ul", { class: "targets" });
    for (const target of post.targets) {
      const line = el("li", { "data-target": target.id, "data-platform": target.platform },
        el("span", { class: "account", text: accountName(target) }), " ",
        el("span", { class: `status ${target.status}`, text: window.CachalotWords.status(target.status) }));
      if (target.last_error && (target.status === "failed" || target.status === "unconfirmed")) {
        const why = window.CachalotWords.reason(target.last_error_code, target.last_error);
        line.append(el("span", { class: "muted hint", text: ` ${why}` }));
      }
      const where = platformName(target.platform);
      const button = (text, label, onclick) => el("button", { type: "button", class: "secondary small", text, onclick, "aria-label": label });
      if (OPEN.has(target.status)) {
        line.append(button(t("Edit"), t("Edit the {platform} post", { platform: where }), () => editor(post, target, false)));
        line.append(button(t("Cancel"), t("Cancel the {platform} post", { platform: where }), () => targetVerb(post, target, "cancel")));
      } else if (target.status === "failed" && !post.media_deleted) {
        line.append(button(t("Edit and queue again"), t("Edit and queue again: the {platform} post", { platform: where }), () => editor(post, target, true)));
        line.append(button(t("Retry"), t("Retry the {platform} post", { platform: where }), () => targetVerb(post, target, "retry")));
      } else if (target.status === "unconfirmed") {
        // we could not confirm whether it went out (issue 10): the client says which it is
        line.append(button(t("Mark as published"), t("Mark as published: the {platform} post", { platform: where }), () => targetVerb(post, target, "mark-published")));
        if (!post.media_deleted) {
          line.append(button(t("Publish again"), t("Publish again: the {platform} post", { platform: where }), () => {
            if (window.confirm(t("Publish again? If the first post did go out, it will appear twice."))) targetVerb(post, target, "publish-again");
          }));
        }
      }
      list.append(line);
    }
    body.append(list);
    if (isOpen(post)) {
      const id = `move-${post.id}`;
      const input = el("input", { type: "datetime-local", id, value: localInput(post.scheduled_at) });
      const error = el("div", { class: "field-error", role: "alert" });
      const form = el("form", { class: "move hidden" },
        el("label", { for: id, text: t("New publish time ({zone})", { zone: ZONE }) }), input,
        el("button", { type: "submit", text: t("Save time") }), error);
      window.CachalotWhen.upgrade(input); // day, month, year, hour, minute in the page's language
      const toggle = el("button", { type: "button", class: "secondary small", text: t("Change time"),
        "aria-label": t("Change time: \"{post}\"", { post: textOf(post).slice(0, 40) }) }); // the visible words first (WCAG 2.5.3)
      toggle.onclick = () => {
        form.classList.toggle("hidden");
        if (!form.classList.contains("hidden")) {
          input.value = localInput((posts.get(post.id) || post).scheduled_at);
          window.CachalotWhen.show(input);
          window.CachalotWhen.focus(input);
        } else renderList(); // what changed while it was open
      };
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        error.textContent = "";
        const partial = window.CachalotWhen.problem(input);
        if (partial || !input.value) { error.textContent = partial || t("Choose a date and time."); return; }
        // closed while it is sent (an open form holds the item's rebuild): the item is rebuilt
        // with the new time and the focus comes back to this button; a refusal opens it again
        form.classList.add("hidden");
        toggle.focus();
        const problem = await reschedule(post, new Date(input.value));
        if (problem && document.body.contains(input)) {
          form.classList.remove("hidden");
          window.CachalotWhen.focus(input);
          error.textContent = problem;
        } else if (problem) say("bad", problem);
      });
      body.append(toggle, form);
    }
    item.append(thumbnail(post), body);
    return item;
  }

  const signature = (post) => JSON.stringify([post.scheduled_at, post.media_deleted,
    post.targets.map((t) => [t.status, t.options, t.last_error, t.last_error_code, accountName(t)])]);

  // An item a person is using: its "Change time" form is open, or the keyboard is in one
  // of its fields (the time picker's selects). A live change never closes it nor moves the
  // focus: only the parts around it are written (time, text, targets without the focus),
  // and the whole item once the form is closed or left.
  function inUse(item) {
    const form = item.querySelector("form.move");
    const active = document.activeElement;
    return Boolean(form && !form.classList.contains("hidden"))
      || (item.contains(active) && active.matches("input,select,textarea"));
  }

  function refreshAround(item, fresh) {
    for (const part of [".thumb", "time.when", "p.text", "ul.targets"]) {
      const old = item.querySelector(part);
      const now = fresh.querySelector(part);
      if (old && now && !old.contains(document.activeElement)) old.replaceWith(now);
    }
  }

  // Keeps each item by post id and rebuilds only a post that changed (and not while
  // a person is using it, inUse): focus stays where it was.
  function renderList() {
    const list = $("schedule-list");
    const order = [...posts.values()].sort((a, b) =>
      a.scheduled_at === b.scheduled_at ? a.id.localeCompare(b.id) : a.scheduled_at < b.scheduled_at ? -1 : 1);
    let previous = null;
    let kept = document.activeElement;
    const wanted = new Set(order.map((p) => p.id));
    for (const item of [...list.children]) if (!wanted.has(item.dataset.post)) item.remove();
    for (const post of order) {
      let item = list.querySelector(`li[data-post="${CSS.escape(post.id)}"]`);
      const now = signature(post);
      const held = item && signatures.get(post.id) !== now && inUse(item);
      if (held) refreshAround(item, buildItem(post)); // its signature stays old: rebuilt once free
      else if (!item || signatures.get(post.id) !== now) {
        const fresh = buildItem(post);
        const active = item && item.contains(document.activeElement) ? document.activeElement : null;
        if (item) item.replaceWith(fresh);
        item = fresh;
        signatures.set(post.id, now);
        if (active) { // the same control of the rebuilt item keeps the keyboard focus
          const label = active.getAttribute("aria-label");
          const same = [...fresh.querySelectorAll("button")].find((b) =>
            label ? b.getAttribute("aria-label") === label : b.textContent === active.textContent);
          // a button gone with the change (Retry, Cancel): its target's new status, which a
          // screen reader reads (the notice above says what was done)
          const line = active.closest("li[data-target]");
          const status = !same && line
            ? fresh.querySelector(`li[data-target="${CSS.escape(line.dataset.target)}"] .status`) : null;
          if (status) status.tabIndex = -1;
          kept = same || status || fresh.querySelector("button") || fresh;
          kept.focus();
        }
      }
      const expected = previous ? previous.nextSibling : list.firstChild;
      if (item !== expected) list.insertBefore(item, expected);
      previous = item;
    }
    // an item moved to its new place loses the focus: it goes back (a rebuilt one's was placed above)
    if (kept && kept !== document.activeElement && kept.isConnected) kept.focus();
    $("schedule-empty").classList.toggle("hidden", posts.size > 0);
  }

  // Where a post will still go: the targets not cancelled (a cancelled one will not
  // publish, so the calendar leaves it out); a post whose every target was cancelled
  // names them all, marked cancelled.
  function eventTitle(post) {
    const going = post.targets.filter((target) => target.status !== "cancelled");
    const names = (going.length ? going : post.targets).map((target) => platformName(target.platform)).join(", ");
    const where = going.length ? names : `${names} (${window.CachalotWords.status("cancelled")})`;
    return `${where}: ${textOf(post)}`;
  }

  function events() {
    return [...posts.values()].map((post) => ({
      id: post.id,
      title: eventTitle(post),
      start: post.scheduled_at,
      allDay: false,
      startEditable: isOpen(post),
      durationEditable: false,
      classNames: [`post-${post.targets.every((t) => t.status === "published") ? "published" : post.targets.some((t) => t.status === "failed") ? "failed" : isOpen(post) ? "open" : "busy"}`],
      extendedProps: { postId: post.id },
    }));
  }

  function ensureCalendar() {
    if (calendar || !window.FullCalendar) return;
    const phone = window.matchMedia("(max-width: 640px)").matches;
    calendar = new window.FullCalendar.Calendar($("calendar"), {
      initialView: phone ? "listWeek" : "dayGridMonth",
      timeZone: "local", // the browser's zone, named above the calendar
      headerToolbar: { left: "prev,next today", center: "title", right: "dayGridMonth,timeGridWeek,listWeek" },
      // the calendar's own words in the page's language (its vendored ru locale: week from
      // Monday, "+ ещё N", day and month names), our button names, and the hints its ru
      // locale does not have (FullCalendar's English ones otherwise)
      locale: LANG,
      buttonText: { today: t("Today"), month: t("Month"), week: t("Week"), list: t("List") },
      ...(LANG === "en" ? {} : {
          buttonHints: { prev: t("Previous period"), next: t("Next period"), today: t("Go to today") },
          viewHint: (view) => t("Show as: {view}", { view }),
          moreLinkHint: (n) => t("Show {n} more posts", { n }),
          navLinkHint: (date) => t("Go to {date}", { date }),
          closeHint: t("Close"),
          timeHint: t("Time"),
          eventHint: t("Post"),
        }),
      height: "auto",
      firstDay: 1,
      nowIndicator: true,
      eventInteractive: true, // every event is reached with Tab and opened with Enter
      editable: true,
      eventDurationEditable: false,
      eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
      events: (info, success) => success(events()),
      // the toolbar's arrow icons are drawn: the buttons' titles name them
      datesSet: () => hideIcons(),
      eventDidMount: (info) => {
        const post = posts.get(info.event.extendedProps.postId);
        if (!post) return;
        info.el.setAttribute("aria-label",
          `${info.event.title}, ${WHEN.format(info.event.start)}${isOpen(post) ? `, ${t("can be moved")}` : ""}`);
        info.el.dataset.post = post.id;
      },
      eventClick: (info) => {
        info.jsEvent.preventDefault();
        const item = $("schedule-list").querySelector(`li[data-post="${CSS.escape(info.event.extendedProps.postId)}"]`);
        if (!item) return;
        item.scrollIntoView({ block: "center" });
        const focusable = item.querySelector("button");
        if (focusable) focusable.focus();
      },
      eventDrop: async (info) => {
        const post = posts.get(info.event.extendedProps.postId);
        const problem = post ? await reschedule(post, info.event.start) : t("This post is gone.");
        if (problem) {
          info.revert();
          say("bad", problem);
        }
      },
    });
    calendar.render();
    hideIcons();
  }

  function hideIcons() {
    for (const icon of $("calendar").querySelectorAll(".fc-icon")) icon.setAttribute("aria-hidden", "true");
  }

  function renderCalendar() {
    ensureCalendar();
    if (calendar) calendar.refetchEvents();
  }

  // Posts read here or handed over by app.js, each target in the newest state the page has
  // seen (web/newest.js: a read begun before a live event and answered after it carries
  // the state before it).
  function merge(items) {
    let changed = false;
    for (const read of items) {
      // a copy: app.js updates its own post objects in place as live statuses arrive,
      // and a shared object would always compare equal to itself here (never redrawn)
      const post = window.CachalotNewest.newest(structuredClone(read));
      const before = posts.get(post.id);
      if (!before || JSON.stringify(before) !== JSON.stringify(post)) {
        posts.set(post.id, post);
        changed = true;
      }
    }
    if (changed) { renderList(); renderCalendar(); }
  }

  // Every post (pages of 100 by publish time), the accounts' names and the media.
  async function loadAll() {
    if (loading) return loading;
    loading = (async () => {
      const [who, files] = await Promise.all([api("/api/v1/accounts"), api("/api/v1/media?limit=100")]);
      if (who.ok) {
        accounts.clear();
        for (const a of Array.isArray(who.body) ? who.body : (who.body && who.body.items) || []) accounts.set(a.id, a);
      }
      if (files.ok && files.body) for (const m of files.body.items || []) media.set(m.id, m);
      const all = [];
      let cursor = null;
      for (let page = 0; page < 20; page += 1) {
        const res = await api(`/api/v1/posts?order=due&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        if (!res.ok) break;
        all.push(...(res.body.items || []));
        cursor = res.body.next_cursor;
        if (!cursor) break;
      }
      const seen = new Set(all.map((p) => p.id));
      for (const id of [...posts.keys()]) if (!seen.has(id)) posts.delete(id);
      signatures.clear();
      merge(all);
      renderList();
      renderCalendar();
      document.dispatchEvent(new CustomEvent("cachalot:schedule-read")); // drawn (tests wait for it)
    })();
    try { await loading; } finally { loading = null; }
  }

  function forget() {
    posts.clear();
    signatures.clear();
    $("schedule-list").textContent = "";
    if (calendar) { calendar.destroy(); calendar = null; }
  }

  document.addEventListener("cachalot:posts", (event) => {
    if (!$("schedule").classList.contains("hidden")) merge(event.detail || []);
  });
  document.addEventListener("cachalot:post-changed", (event) => merge([event.detail]));

  // Shown with "Your posts" (app.js shows that section once the client is signed in).
  $("schedule-zone").textContent = t("Times are in your time zone, {zone}.", { zone: ZONE });
  const posted = $("posts");
  const follow = () => {
    const on = !posted.classList.contains("hidden");
    const was = !$("schedule").classList.contains("hidden");
    $("schedule").classList.toggle("hidden", !on);
    if (on && !was) loadAll();
    if (!on && was) forget();
  };
  new MutationObserver(follow).observe(posted, { attributes: true, attributeFilter: ["class"] });
  follow();
  $("schedule-reload").addEventListener("click", loadAll);
  // an item held while its form was in use catches up once the keyboard leaves it
  $("schedule-list").addEventListener("focusout", (event) => {
    if (event.target.closest("form.move")) setTimeout(renderList, 0);
  });
  window.CachalotSchedule = { reload: loadAll };
})();
