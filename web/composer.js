// The composer's per-account parts (issue 12 item 2), on top of the generic
// fields app.js builds from each platform's JSON Schema:
// - TikTok, by its Direct Post UX rules (shared/reference/platforms.md §1.2):
//   the creator's nickname and privacy options read live from creator_info
//   (auth's GET /api/v1/accounts/{id}/tiktok/creator-info) with no privacy
//   preselected; "allow comments / duets / stitches" off by default and greyed
//   where the creator turned them off; the commercial-content disclosure (your
//   brand → "Promotional content", branded content → "Paid partnership", never
//   "Only me"); the Music Usage / Branded Content declaration always shown;
//   the creator's longest video checked before any upload.
// - YouTube: a category list, privacy in words, an explicit made-for-kids answer.
// - Counters that count as each platform does (UTF-16 units, code points, bytes,
//   YouTube's tag count, hashtags and mentions) and a preview of each post.
// app.js calls window.CachalotComposer.{enhance, check, adjust}; everything a
// person fills here sits in [data-own] (app.js's blockValue skips it) and goes
// into the platform's block through adjust().
"use strict";
(function () {
  const { t, count: number } = window.I18N; // web/i18n.js: words, and counts as the refusals write them
  // the words of each choice, shared with the proposals' rows (web/choices.js)
  const { TIKTOK_PRIVACY: PRIVACY_WORDS, YOUTUBE_PRIVACY, YOUTUBE_CATEGORIES } = window.CachalotChoices;
  const MUSIC_URL = "https://www.tiktok.com/legal/page/global/music-usage-confirmation/en";
  const BRANDED_URL = "https://www.tiktok.com/legal/page/global/bc-policy/en";
  const INFO_FRESH_MS = 60_000;

  const units = {
    utf16: (t) => t.length, // JS strings are UTF-16
    points: (t) => [...t].length,
    bytes: (t) => new TextEncoder().encode(t).length,
  };
  // Instagram's counts (cachalot_common.platforms.instagram): every occurrence.
  const HASHTAG = /(?<![\p{L}\p{N}_&])#[\p{L}\p{N}_]+/gu;
  const MENTION = /(?<![\p{L}\p{N}_@])@[A-Za-z0-9._]+/g;
  const count = (re, t) => (t.match(re) || []).length;
  // YouTube's tag count: comma-joined, a tag with a space is quoted.
  function youtubeTags(text) {
    const tags = text.split(",").map((t) => t.trim()).filter(Boolean);
    return tags.reduce((n, t) => n + t.length + (t.includes(" ") ? 2 : 0), 0) + Math.max(0, tags.length - 1);
  }
  // Telegram's caption box is plain text: what a person types is sent escaped
  // (parse_mode=HTML takes a bare "<" as a tag and refuses the post), so the
  // count is the text itself, as Telegram counts it after parsing (UTF-16 units,
  // trimmed). A caption written as HTML through the API shows as its text when edited.
  const escapeTelegram = (t) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  function telegramText(html) {
    return new DOMParser().parseFromString(`<body>${html}</body>`, "text/html").body.textContent || "";
  }
  const telegramLength = (text) => units.utf16(text.trim());

  // platform → field → (text, kind) → {used, max, unit, extra: [{what, used, max}]}
  const COUNTS = {
    tiktok: {
      caption: (s, kind) => ({ used: units.utf16(s), max: kind === "photo" ? 4000 : 2200, unit: "characters",
        note: t("emoji count as two, as TikTok counts"), extra: [{ what: "hashtags", used: count(HASHTAG, s) }] }),
      photo_title: (s) => ({ used: units.utf16(s), max: 90, unit: "characters" }),
    },
    youtube: {
      title: (s) => ({ used: units.points(s), max: 100, min: 1, unit: "characters" }),
      description: (s) => ({ used: units.bytes(s), max: 5000, unit: "bytes",
        note: t("YouTube counts bytes: most letters outside English take two"), extra: [{ what: "hashtags", used: count(HASHTAG, s) }] }),
      tags: (s) => ({ used: youtubeTags(s), max: 500, unit: "characters", note: t("counted as YouTube does: commas, and quotes around tags with spaces") }),
    },
    instagram: {
      caption: (s) => ({ used: units.points(s), max: 2200, unit: "characters",
        extra: [{ what: "hashtags", used: count(HASHTAG, s), max: 30 }, { what: "@mentions", used: count(MENTION, s), max: 20 }] }),
    },
    vk: { message: (s) => ({ used: units.points(s), max: 16384, unit: "characters" }) },
    telegram: {
      caption: (s) => ({ used: telegramLength(s), max: 1024, unit: "characters", note: t("emoji count as two, as Telegram counts") }),
    },
  };

  let sequence = 0;
  const parts = new WeakMap(); // container → its state
  let video = { name: "", duration: null, thumb: "" }; // the chosen video, read in the browser

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

  function kindOf() {
    const checked = document.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : "video";
  }

  function wrapOf(container, name) {
    const input = container.querySelector(`fieldset.block [name="${name}"]`);
    return input ? input.closest(".block-field") : null;
  }

  // ---- counters ---------------------------------------------------------------
  // "{used} of {max} characters", plural forms chosen by the limit (Intl.PluralRules).
  const REQUIRED = t("(required)");
  const UNIT_OF = {
    characters: (vars) => t("{used} of {max} characters", vars),
    bytes: (vars) => t("{used} of {max} bytes", vars),
  };
  const EXTRA_OF = {
    hashtags: (vars) => t("{count} hashtags", vars),
    "@mentions": (vars) => t("{count} @mentions", vars),
  };
  function amount(what, used) {
    return EXTRA_OF[what]({ count: number(used), n: used });
  }
  function counterText(c) {
    let text = UNIT_OF[c.unit]({ used: number(c.used), max: number(c.max), n: c.max });
    if (c.used > c.max) text += ` — ${t("{count} too many", { count: number(c.used - c.max), n: c.used - c.max })}`;
    for (const e of c.extra || []) {
      text += ` · ${amount(e.what, e.used)}` + (e.max !== undefined ? ` ${t("(at most {max})", { max: number(e.max) })}` : "");
    }
    return text;
  }

  function addCounters(state) {
    const rules = COUNTS[state.platform] || {};
    for (const [name, rule] of Object.entries(rules)) {
      const wrap = wrapOf(state.container, name);
      if (!wrap) continue;
      const input = wrap.querySelector(`[name="${name}"]`);
      const id = `count-${state.key}-${name}`;
      const counter = el("div", { class: "counter muted hint", id, "data-count": name });
      for (const hint of wrap.querySelectorAll(":scope > .hint")) hint.remove(); // the schema's wording
      wrap.querySelector(".field-error").before(counter);
      input.setAttribute("aria-describedby", id);
      const update = () => {
        const c = rule(input.value, state.kind());
        counter.textContent = counterText(c) + (c.note ? ` (${c.note})` : "");
        const over = c.used > c.max || (c.extra || []).some((e) => e.max !== undefined && e.used > e.max);
        counter.classList.toggle("over", over);
      };
      input.addEventListener("input", update);
      state.updates.push(update);
    }
  }

  // Whether the block's option `name` is for the post's kind (its schema's `x-kinds`,
  // cachalot_common.platforms.spec.for_kinds; no mark: every kind).
  function forThisKind(state, name) {
    const prop = ((state.fields || {}).properties || {})[name] || {};
    return !Array.isArray(prop["x-kinds"]) || prop["x-kinds"].includes(state.kind());
  }

  // ---- TikTok -------------------------------------------------------------------
  function tiktokParts(state, values) {
    const { container } = state;
    const fieldset = container.querySelector("fieldset.block");
    const key = state.key;
    // the generic switches this replaces go away: their values come from adjust()
    for (const name of ["disable_comment", "disable_duet", "disable_stitch", "brand_content_toggle", "brand_organic_toggle"]) {
      const wrap = wrapOf(container, name);
      if (wrap) wrap.remove();
    }
    const who = el("p", { class: "tt-who", role: "status", text: t("Reading this TikTok account's settings…") });
    const creatorError = el("div", { class: "field-error", "data-error": "creator" });
    const head = el("div", { class: "tt-head", "data-own": "" }, who, creatorError);
    fieldset.querySelector("legend").after(head);

    // privacy: the generic select, refilled from creator_info, nothing preselected
    const privacy = fieldset.querySelector('[name="privacy_level"]');
    const privacyLabel = fieldset.querySelector(`label[for="${privacy.id}"]`);
    privacyLabel.textContent = `${t("Who can see this post")} ${REQUIRED}`;
    privacy.textContent = "";
    privacy.append(el("option", { value: "", text: t("Choose who can see this post"), defaultSelected: true }));
    privacy.disabled = true;
    const privacyHint = el("div", { class: "muted hint", id: `tt-privacy-hint-${key}` });
    privacy.closest(".block-field").querySelector(".field-error").before(privacyHint);
    privacy.setAttribute("aria-describedby", privacyHint.id);

    const switches = {};
    const interactions = el("fieldset", { class: "tt-allow", "data-own": "" }, el("legend", { text: t("Allow others to") }));
    for (const [name, words] of [["comment", t("Comment")], ["duet", t("Duet")], ["stitch", t("Stitch")]]) {
      const id = `tt-${name}-${key}`;
      const box = el("input", { type: "checkbox", id, defaultChecked: values ? values[`disable_${name}`] === false : false });
      box.checked = box.defaultChecked;
      const label = el("label", { class: "inline", for: id }, box, ` ${words}`);
      const note = el("span", { class: "muted hint tt-off hidden", text: ` ${t("(turned off in this account's TikTok settings)")}` });
      label.append(note);
      switches[name] = { box, label, note };
      interactions.append(label);
    }
    interactions.append(el("div", { class: "field-error", "data-error": "interactions" }));

    const disclose = el("input", { type: "checkbox", id: `tt-disclose-${key}` });
    const own = el("input", { type: "checkbox", id: `tt-own-${key}` });
    const branded = el("input", { type: "checkbox", id: `tt-branded-${key}` });
    if (values) {
      own.checked = own.defaultChecked = Boolean(values.brand_organic_toggle);
      branded.checked = branded.defaultChecked = Boolean(values.brand_content_toggle);
      disclose.checked = disclose.defaultChecked = own.checked || branded.checked;
    }
    const labelLine = el("p", { class: "tt-label", role: "status" });
    const choices = el("div", { class: "tt-brands" },
      el("label", { class: "check", for: own.id }, own, ` ${t("Your brand")}`,
        el("span", { class: "muted hint", text: ` — ${t("you are promoting yourself or your own business")}` })),
      el("label", { class: "check", for: branded.id }, branded, ` ${t("Branded content")}`,
        el("span", { class: "muted hint", text: ` — ${t("you are promoting another brand or a third party")}` })),
      labelLine);
    const disclosure = el("fieldset", { class: "tt-disclosure", "data-own": "" },
      el("legend", { text: t("Commercial content disclosure") }),
      el("label", { class: "check", for: disclose.id }, disclose, ` ${t("This post promotes a brand, product or service")}`),
      el("div", { class: "muted hint", text: t("Turn this on if the post promotes yourself, a third party, or both.") }),
      choices,
      el("div", { class: "field-error", "data-error": "disclosure" }));
    const consent = el("p", { class: "tt-consent", "data-own": "" });

    const caption = wrapOf(container, "caption");
    (caption || privacy.closest(".block-field")).after(interactions);
    interactions.after(disclosure);
    fieldset.append(consent);

    Object.assign(state, { who, creatorError, privacy, privacyHint, switches, disclose, own, branded, choices, labelLine, consent, info: null, infoAt: 0 });
    const sync = () => syncTikTok(state);
    for (const box of [disclose, own, branded]) box.addEventListener("change", sync);
    privacy.addEventListener("change", sync);
    state.updates.push(sync);
    state.wanted = values ? values.privacy_level : "";
    loadCreator(state);
  }

  // Read when the composer is on screen (before consent, auth refuses the read);
  // a failed read is tried again while it is shown.
  const composeShown = () => {
    const section = document.getElementById("compose");
    return !section || !section.classList.contains("hidden");
  };

  // An account that must be reconnected (auth: reauth_required, revoked) has no token to
  // read with: auth would only refuse (409/502), so it is not asked until reconnected.
  const canRead = (state) => !state.container.dataset.status || state.container.dataset.status === "ok";

  // TikTok's code of a refused creator_info read (auth: the 502 problem's `code`, and
  // `cannot_post_code` with can_post false) in the page's words (words.js CODES)
  const tiktokWords = (code, fallback) => window.CachalotWords.reason(code, fallback);

  // Why auth could not read creator_info (public.py creator_info), by status and code.
  function readRefusal(res, body) {
    if (!res || !body || res.status >= 503) return t("TikTok could not be reached; try again in a minute.");
    if (res.status === 409) return t("This TikTok account must be reconnected before posting.");
    if (res.status === 502) return tiktokWords(body.code, t("TikTok refused to say what this account may post; try again in a minute."));
    return window.CachalotWords.problem(body, t("TikTok could not be reached; try again in a minute."));
  }

  const cannotPost = (info) => tiktokWords(info.cannot_post_code, t("TikTok does not let this account post right now."));

  async function loadCreator(state) {
    if (state.checksVideo && !composeShown()) { state.infoAt = 0; return; } // the edit dialog always reads
    if (!canRead(state)) { state.infoAt = 0; return; }
    state.infoAt = Date.now();
    state.who.textContent = t("Reading this TikTok account's settings…");
    let res;
    try {
      res = await fetch(`/api/v1/accounts/${encodeURIComponent(state.accountId)}/tiktok/creator-info`, { credentials: "same-origin" });
    } catch (e) {
      res = null;
    }
    const body = res ? await res.json().catch(() => null) : null;
    if (!res || !res.ok || !body) {
      state.info = null;
      state.infoError = readRefusal(res, body);
      state.who.textContent = "";
      state.creatorError.textContent = t("We could not read this TikTok account's settings: {why}", { why: state.infoError });
      syncTikTok(state);
      clearTimeout(state.retry);
      if (res && res.status === 404) return; // gone: nothing to try again
      state.retry = setTimeout(() => { if (document.body.contains(state.container)) loadCreator(state); }, 10_000);
      return;
    }
    state.info = body;
    state.infoError = "";
    state.creatorError.textContent = body.can_post ? "" : cannotPost(body);
    state.who.textContent = "";
    state.who.append(`${t("Posting to TikTok as")} `, el("strong", { text: body.nickname || t("this account") }),
      body.username ? ` (@${body.username})` : "");
    const previous = state.privacy.value || state.wanted || "";
    state.privacy.textContent = "";
    state.privacy.append(el("option", { value: "", text: t("Choose who can see this post"), defaultSelected: true }));
    for (const option of body.privacy_level_options) {
      state.privacy.append(el("option", { value: option, text: PRIVACY_WORDS[option] || option }));
    }
    state.privacy.disabled = !body.can_post;
    if (body.privacy_level_options.includes(previous)) state.privacy.value = previous;
    for (const [name, part] of Object.entries(state.switches)) {
      const off = body[`${name}_disabled`] === true;
      part.box.disabled = off;
      if (off) part.box.checked = false;
      part.note.classList.toggle("hidden", !off);
      part.label.classList.toggle("muted", off);
    }
    syncTikTok(state);
    if (state.accountBox) state.accountBox.dispatchEvent(new Event("cachalot:creator"));
  }

  function syncTikTok(state) {
    const photo = state.kind() === "photo";
    // a switch shows only with the kinds its option is for (the registry's x-kinds)
    for (const name of ["duet", "stitch"]) {
      state.switches[name].label.classList.toggle("hidden", !forThisKind(state, `disable_${name}`));
    }
    const on = state.disclose.checked;
    state.choices.classList.toggle("hidden", !on);
    const isBranded = on && state.branded.checked;
    const isOwn = on && state.own.checked;
    const labelled = (label) => (photo
      ? t("Your photo will be labeled \"{label}\".", { label })
      : t("Your video will be labeled \"{label}\".", { label }));
    state.labelLine.textContent = isBranded
      ? labelled(t("Paid partnership"))
      : isOwn ? labelled(t("Promotional content")) : on
        ? t("Choose whether this promotes your own brand, another brand, or both.") : "";
    // branded content cannot be private (TikTok's rule): "Only me" is greyed out
    const selfOnly = state.privacy.querySelector('option[value="SELF_ONLY"]');
    if (selfOnly) {
      selfOnly.disabled = isBranded;
      selfOnly.textContent = isBranded ? t("Only me (not for branded content)") : PRIVACY_WORDS.SELF_ONLY;
      if (isBranded && state.privacy.value === "SELF_ONLY") state.privacy.value = "";
    }
    state.privacyHint.textContent = isBranded ? t("Branded content cannot be private.") : "";
    state.consent.textContent = "";
    state.consent.append(`${t("By posting, you agree to TikTok's")} `);
    if (isBranded) {
      state.consent.append(el("a", { href: BRANDED_URL, target: "_blank", rel: "noopener", text: t("Branded Content Policy") }), ` ${t("and")} `);
    }
    state.consent.append(el("a", { href: MUSIC_URL, target: "_blank", rel: "noopener", text: t("Music Usage Confirmation") }), ".");
  }

  function tiktokProblems(state) {
    const problems = [];
    if (!state.info) {
      problems.push(["creator", state.infoError
        ? t("We could not read this TikTok account's settings: {why}", { why: state.infoError })
        : t("We could not read this TikTok account's settings yet; wait a moment.")]);
      return problems;
    }
    if (!state.info.can_post) {
      problems.push(["creator", cannotPost(state.info)]);
      return problems;
    }
    if (!state.privacy.value) problems.push(["privacy_level", t("Choose who can see this post.")]);
    if (state.disclose.checked && !state.own.checked && !state.branded.checked) {
      problems.push(["disclosure", t("Choose whether this promotes your own brand, another brand (branded content), or both.")]);
    }
    const longest = state.info.max_video_post_duration_sec;
    if (state.kind() === "video" && state.checksVideo && longest && video.duration && video.duration > longest) {
      problems.push(["creator", t("This TikTok account can post videos up to {longest} seconds; this one is {length} seconds.",
        { longest, length: Math.ceil(video.duration), n: longest })]);
    }
    return problems;
  }

  function tiktokAdjust(state, block) {
    for (const name of ["comment", "duet", "stitch"]) {
      // an option this kind of post does not use (the registry's x-kinds: duets and
      // stitches are for videos) is left out: the queue refuses it rather than drop it
      if (!forThisKind(state, `disable_${name}`)) continue;
      const part = state.switches[name];
      block[`disable_${name}`] = !part.box.checked || part.box.disabled;
    }
    block.brand_organic_toggle = state.disclose.checked && state.own.checked;
    block.brand_content_toggle = state.disclose.checked && state.branded.checked;
  }

  // ---- YouTube -------------------------------------------------------------------
  function youtubeParts(state, values) {
    const { container } = state;
    const category = container.querySelector('fieldset.block [name="category_id"]');
    if (category) {
      const select = el("select", { id: category.id, name: "category_id" });
      select.dataset.type = "string";
      const current = (values && values.category_id) || category.value || "22";
      for (const [id, words] of YOUTUBE_CATEGORIES) {
        select.append(el("option", { value: id, text: words, defaultSelected: id === current }));
      }
      category.replaceWith(select);
    }
    const privacy = container.querySelector('fieldset.block [name="privacy_status"]');
    if (privacy) {
      for (const option of privacy.options) option.textContent = YOUTUBE_PRIVACY[option.value] || option.value;
    }
    const kids = wrapOf(container, "made_for_kids");
    const name = `mfk-${state.key}`;
    const yes = el("input", { type: "radio", name, value: "yes", id: `${name}-yes` });
    const no = el("input", { type: "radio", name, value: "no", id: `${name}-no` });
    if (values && typeof values.made_for_kids === "boolean") {
      (values.made_for_kids ? yes : no).checked = true;
      (values.made_for_kids ? yes : no).defaultChecked = true;
    }
    const group = el("fieldset", { class: "yt-kids", "data-own": "" },
      el("legend", { text: `${t("Is this video made for kids?")} ${REQUIRED}` }),
      el("label", { class: "inline", for: yes.id }, yes, ` ${t("Yes, it's made for kids")}`),
      el("label", { class: "inline", for: no.id }, no, ` ${t("No, it's not made for kids")}`),
      el("div", { class: "muted hint", text: t("YouTube requires this answer for every video (COPPA); we do not choose for you.") }),
      el("div", { class: "field-error", "data-error": "made_for_kids" }));
    if (kids) kids.replaceWith(group);
    else container.querySelector("fieldset.block").append(group);
    Object.assign(state, { kidsYes: yes, kidsNo: no });
  }

  function youtubeProblems(state) {
    if (state.kidsYes.checked || state.kidsNo.checked) return [];
    return [["made_for_kids", t("Say whether this video is made for kids; YouTube requires an answer.")]];
  }

  // ---- preview -----------------------------------------------------------------
  function richText(text) {
    // hashtags and mentions shown as the platforms show them; never as HTML
    const out = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(/(?<![\p{L}\p{N}_&@])[#@][\p{L}\p{N}_.]+/gu)) {
      out.append(text.slice(last, match.index), el("span", { class: "tag", text: match[0] }));
      last = match.index + match[0].length;
    }
    out.append(text.slice(last));
    return out;
  }

  function fieldValue(state, name) {
    const input = state.container.querySelector(`fieldset.block [name="${name}"]`);
    return input ? input.value : "";
  }

  function renderPreview(state) {
    const box = state.preview;
    if (!box) return;
    const kind = state.kind();
    box.textContent = "";
    box.append(el("p", { class: "preview-head", text: t("Preview on {platform}", { platform: state.label }) }));
    const card = el("div", { class: `card card-${state.platform}` });
    const media = kind === "video" && video.thumb
      ? el("img", { src: video.thumb, alt: t("First frame of {file}", { file: video.name }), class: "thumb" })
      : el("div", { class: "thumb none", text: kind === "article" ? t("Article") : kind === "photo" ? t("Photo post") : video.name || t("No video chosen yet") });
    if (state.platform === "tiktok") {
      const info = state.info || {};
      card.append(media, el("p", { class: "who" }, el("strong", { text: info.username ? `@${info.username}` : info.nickname || t("TikTok account") })));
      if (kind === "photo" && fieldValue(state, "photo_title")) card.append(el("p", { class: "title", text: fieldValue(state, "photo_title") }));
      card.append(el("p", { class: "text" }, richText(fieldValue(state, "caption"))));
      const label = state.disclose && state.disclose.checked
        ? state.branded.checked ? t("Paid partnership") : state.own.checked ? t("Promotional content") : "" : "";
      if (label) card.append(el("p", { class: "chip", text: label }));
      card.append(el("p", { class: "muted hint", text: t("Seen by: {who}", { who: PRIVACY_WORDS[state.privacy.value] || t("not chosen yet") }) }));
    } else if (state.platform === "youtube") {
      card.append(media, el("p", { class: "title", text: fieldValue(state, "title") || t("(no title yet)") }));
      const kids = state.kidsYes.checked ? t("made for kids") : state.kidsNo.checked ? t("not made for kids") : t("made for kids: not answered");
      const privacy = state.container.querySelector('fieldset.block [name="privacy_status"]');
      const category = state.container.querySelector('fieldset.block [name="category_id"]');
      const words = [privacy && privacy.selectedOptions[0] ? privacy.selectedOptions[0].textContent : "",
        category && category.selectedOptions && category.selectedOptions[0] ? category.selectedOptions[0].textContent : "", kids];
      card.append(el("p", { class: "muted hint", text: words.filter(Boolean).join(" · ") }));
      card.append(el("p", { class: "text" }, richText(fieldValue(state, "description"))));
      const tags = fieldValue(state, "tags").split(",").map((t) => t.trim()).filter(Boolean);
      if (tags.length) card.append(el("p", { class: "muted hint", text: t("Tags: {tags}", { tags: tags.join(", ") }) }));
    } else {
      const field = state.platform === "vk" ? "message" : "caption";
      let text = fieldValue(state, field);
      card.append(el("p", { class: "who" }, el("strong", { text: state.accountName })), media, el("p", { class: "text" }, richText(text)));
    }
    box.append(card);
  }

  // ---- the chosen video, read in the browser (duration and a first frame) ------
  function readVideo(file) {
    video = { name: file ? file.name : "", duration: null, thumb: "" };
    const done = () => {
      for (const state of live) if (state.preview) renderPreview(state);
    };
    if (!file) { done(); return; }
    const url = URL.createObjectURL(file);
    const player = document.createElement("video");
    player.muted = true;
    player.preload = "metadata";
    // the blob URL is revoked only once the player let go of it (src removed and
    // loaded again), else Chromium still reads it and logs net::ERR_FILE_NOT_FOUND
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      player.removeAttribute("src");
      player.load();
      URL.revokeObjectURL(url);
      done();
    };
    player.addEventListener("loadedmetadata", () => {
      if (Number.isFinite(player.duration)) video.duration = player.duration;
      player.currentTime = Math.min(1, (player.duration || 0) / 2);
    });
    player.addEventListener("seeked", () => {
      try {
        const canvas = document.createElement("canvas");
        const width = 180;
        canvas.width = width;
        canvas.height = Math.round((width * (player.videoHeight || 320)) / (player.videoWidth || 180));
        canvas.getContext("2d").drawImage(player, 0, 0, canvas.width, canvas.height);
        video.thumb = canvas.toDataURL("image/jpeg", 0.8);
      } catch (e) { /* no frame: the preview names the file instead */ }
      finish();
    });
    player.addEventListener("error", finish);
    player.src = url;
  }

  const live = new Set(); // states of the composer's rows (not the edit dialog's)

  const api = {
    // Adds the platform's own parts to `container` (a target row, or the edit
    // dialog's box) holding its fieldset.block. `account`: {id, platform,
    // display_name}; `values`: the target's options when editing.
    enhance(container, account, spec, { values = null, kind = null, box = null } = {}) {
      const fieldset = container.querySelector("fieldset.block");
      if (!fieldset || parts.has(container)) return;
      sequence += 1;
      const state = {
        container, key: `${sequence}`, accountId: account.id, platform: account.platform,
        accountName: account.display_name || (spec && spec.label) || account.platform,
        label: (spec && spec.label) || account.platform, updates: [], accountBox: box,
        fields: spec && spec.fields,
        kind: () => kind || kindOf(), checksVideo: !values,
      };
      parts.set(container, state);
      if (state.platform === "tiktok") tiktokParts(state, values);
      if (state.platform === "youtube") youtubeParts(state, values);
      if (state.platform === "telegram" && values && typeof values.caption === "string") {
        const box = fieldset.querySelector('[name="caption"]');
        if (box) box.value = box.defaultValue = telegramText(values.caption);
      }
      addCounters(state);
      if (!values) {
        state.preview = el("div", { class: "preview", "data-own": "", "aria-label": t("Preview on {platform}", { platform: state.label }), role: "group" });
        fieldset.append(state.preview);
        live.add(state);
      }
      const refresh = () => { for (const update of state.updates) update(); renderPreview(state); };
      container.addEventListener("input", refresh);
      container.addEventListener("change", refresh);
      state.refresh = refresh;
      if (box && state.platform === "tiktok") {
        box.addEventListener("change", () => {
          if (box.checked && Date.now() - state.infoAt > INFO_FRESH_MS) loadCreator(state);
        });
      }
      refresh();
    },

    // Problems only a person's answers here show, as [field, words] (TikTok's creator
    // settings and disclosure, YouTube's made-for-kids); lengths and every other rule of
    // the server are the server's (POST /api/v1/posts/check), the counters only show them.
    check(container) {
      const state = parts.get(container);
      if (!state) return [];
      const problems = [];
      if (state.platform === "tiktok") problems.push(...tiktokProblems(state));
      if (state.platform === "youtube") problems.push(...youtubeProblems(state));
      return problems;
    },

    // The post's kind changed (app.js's applyKind): each part shows what that kind uses
    // (TikTok's Duet and Stitch are for videos only).
    refresh(container) {
      const state = parts.get(container);
      if (state && state.refresh) state.refresh();
    },

    // Writes this part's answers into the platform's block (app.js's blockValue).
    adjust(container, block) {
      const state = parts.get(container);
      if (!state) return block;
      if (state.platform === "tiktok") tiktokAdjust(state, block);
      if (state.platform === "youtube") block.made_for_kids = state.kidsYes.checked;
      if (state.platform === "telegram" && typeof block.caption === "string") block.caption = escapeTelegram(block.caption);
      return block;
    },

    // After the form was reset (a post queued) or the kind changed.
    refresh() {
      for (const state of live) {
        if (!document.body.contains(state.container)) { live.delete(state); continue; }
        state.refresh();
      }
    },
  };
  window.CachalotComposer = api;

  // the composer shown (consent given, an account connected): read what was not read yet
  const section = document.getElementById("compose");
  if (section) {
    new MutationObserver(() => {
      if (!composeShown()) return;
      for (const state of live) {
        if (state.platform === "tiktok" && !state.info && document.body.contains(state.container)) loadCreator(state);
      }
    }).observe(section, { attributes: true, attributeFilter: ["class"] });
  }

  document.addEventListener("change", (event) => {
    if (event.target && event.target.id === "video") readVideo(event.target.files[0]);
    if (event.target && event.target.name === "kind") api.refresh();
  });
  document.addEventListener("reset", (event) => {
    if (event.target && event.target.id === "post-form") {
      video = { name: "", duration: null, thumb: "" };
      setTimeout(api.refresh, 0);
    }
  });
})();
