// The words of a post target's chosen options (issue 13: a client approves a proposal
// knowing who will see it and what it allows), shared by the composer (composer.js),
// the client's proposals (proposals.js) and the operator's deliveries (operator.js):
// one table per choice, so the composer's field and the proposal's line say the same.
// Also what both proposal tables show of a delivery and of its targets (what(),
// targets()), so the client and the operator read a proposal in the same words.
// TikTok's Direct Post UX rules (shared/reference/platforms.md §1.2) want the privacy,
// the interactions and the commercial-content disclosure shown to the person who posts.
"use strict";
(function () {
  const { t } = window.I18N; // web/i18n.js
  const TIKTOK_PRIVACY = {
    PUBLIC_TO_EVERYONE: t("Everyone"),
    MUTUAL_FOLLOW_FRIENDS: t("Friends (followers you follow back)"),
    FOLLOWER_OF_CREATOR: t("Followers"),
    SELF_ONLY: t("Only me"),
  };
  const YOUTUBE_PRIVACY = { public: t("Public"), unlisted: t("Unlisted (anyone with the link)"), private: t("Private") };
  // YouTube's assignable video categories (videoCategories.list, regionCode=US).
  const YOUTUBE_CATEGORIES = [
    ["1", t("Film & Animation")], ["2", t("Autos & Vehicles")], ["10", t("Music")], ["15", t("Pets & Animals")],
    ["17", t("Sports")], ["19", t("Travel & Events")], ["20", t("Gaming")], ["22", t("People & Blogs")],
    ["23", t("Comedy")], ["24", t("Entertainment")], ["25", t("News & Politics")], ["26", t("Howto & Style")],
    ["27", t("Education")], ["28", t("Science & Technology")], ["29", t("Nonprofits & Activism")],
  ];
  // The label TikTok puts on a disclosed post (the composer's words).
  function tiktokLabel(block, kind) {
    const label = block.brand_content_toggle ? t("Paid partnership") : block.brand_organic_toggle ? t("Promotional content") : "";
    if (!label) return "";
    return kind === "photo"
      ? t("Your photo will be labeled \"{label}\".", { label })
      : t("Your video will be labeled \"{label}\".", { label });
  }

  const said = (label, value) => `${label}: ${value}`;
  const yesNo = (value) => (value ? t("yes") : t("no"));

  // TikTok: who can see it, what others may do, the disclosure, AI-generated.
  function tiktok(block, kind) {
    const lines = [said(t("Who can see this post"), TIKTOK_PRIVACY[block.privacy_level] || t("not chosen yet"))];
    const allowed = [["comment", t("Comment")], ["duet", t("Duet")], ["stitch", t("Stitch")]]
      .filter(([name]) => kind !== "photo" || name === "comment")
      .filter(([name]) => block[`disable_${name}`] === false)
      .map(([, words]) => words);
    lines.push(said(t("Allow others to"), allowed.length ? allowed.join(", ") : t("nothing (all turned off)")));
    const disclosed = [];
    if (block.brand_organic_toggle) disclosed.push(t("Your brand"));
    if (block.brand_content_toggle) disclosed.push(t("Branded content"));
    lines.push(said(t("Commercial content disclosure"), disclosed.length ? disclosed.join(", ") : t("none")));
    const label = tiktokLabel(block, kind);
    if (label) lines.push(label);
    if (block.is_aigc) lines.push(t("This content is AI-generated"));
    if (kind === "photo" && block.auto_add_music) lines.push(t("Let TikTok add music"));
    return lines;
  }

  function youtube(block) {
    const lines = [said(t("Who can see it"), YOUTUBE_PRIVACY[block.privacy_status] || block.privacy_status || t("not chosen yet"))];
    const category = YOUTUBE_CATEGORIES.find(([id]) => id === block.category_id);
    if (block.category_id) lines.push(said(t("Category"), category ? category[1] : block.category_id));
    if (typeof block.made_for_kids === "boolean") {
      lines.push(block.made_for_kids ? t("Yes, it's made for kids") : t("No, it's not made for kids"));
    }
    return lines;
  }

  const OWN = { tiktok, youtube };
  // The block's fields that are texts (shown as texts, not as choices) or not choices.
  const SKIP = new Set(["title", "photo_title", "caption", "description", "photo_description", "message", "text",
    "tags", "video_cover_timestamp_ms", "photo_cover_index"]);

  // Every chosen option of a target's block in words, one line each: the platform's own
  // words (TikTok, YouTube), else each choice field of the registry's schema (`fields`,
  // GET /api/v1/posts/platforms) by its title and its `x-choices` words, a switch as
  // yes/no (both pages read the schema: the client's /posts/platforms, the operator's /operator/platforms).
  // `kind` is the post's kind (video, photo, article): a field for another kind is left out.
  function describe(platform, block, kind, fields) {
    if (OWN[platform]) return OWN[platform](block || {}, kind);
    const props = (fields && fields.properties) || {};
    const lines = [];
    for (const [name, prop] of Object.entries(props)) {
      if (SKIP.has(name) || !(name in (block || {}))) continue;
      if (Array.isArray(prop["x-kinds"]) && kind && !prop["x-kinds"].includes(kind)) continue;
      const value = block[name];
      if (typeof value === "boolean") lines.push(said(t(prop.title || name), yesNo(value)));
      else if (typeof value === "string" && value) lines.push(said(t(prop.title || name), t((prop["x-choices"] || {})[value] || value)));
    }
    return lines;
  }

  const shown = (text) => (window.cachalotShown ? window.cachalotShown(text) : String(text));
  const platformName = (key) => window.CachalotWords.platform(key); // web/words.js
  // a block's texts, in the order a reader meets them (the per-platform option models of posts)
  const TEXTS = ["title", "photo_title", "caption", "description", "photo_description", "message", "text"];
  const PREVIEW_CHARS = 400;
  const KIND = { video: t("a video"), photo: t("a photo post"), article: t("an article") };

  // HTML (an article's body, a Telegram caption) as the words a reader sees: parsed into an
  // inert document (no script runs, no image loads) and put on the page as text only.
  // Paragraphs, list items and line breaks stay lines of their own.
  function plain(html) {
    const body = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html").body;
    for (const block of body.querySelectorAll("p,li,h3,h4,blockquote,br")) block.append("\n");
    return (body.textContent || "").replace(/[^\S\n]+/g, " ").replace(/ *\n[\s]*/g, "\n").trim();
  }

  function cut(text, most) {
    return text.length > most ? text.slice(0, most - 1).trimEnd() + "…" : text;
  }

  function line(parent, cls, text) {
    const el = document.createElement("div");
    el.className = cls;
    el.textContent = shown(text);
    parent.appendChild(el);
    return el;
  }

  // A delivery's "What" into `td`: the kind and note, the picture (the video's or first
  // image's or cover's thumbnail from the library, `thumbnail(id)` its URL), and for an
  // article its title and the start of its body.
  function what(td, delivery, thumbnail) {
    const pictured = delivery.media_id || (delivery.image_ids || [])[0] ||
      (delivery.article && delivery.article.cover_media_id);
    if (pictured && thumbnail) {
      const img = document.createElement("img");
      img.className = "thumb proposal-thumb";
      img.src = thumbnail(pictured);
      img.alt = t("Picture of the delivered content");
      img.addEventListener("error", () => img.remove()); // no thumbnail (yet): the words stay
      td.appendChild(img);
    }
    line(td, "what-kind", (KIND[delivery.kind] || delivery.kind) + (delivery.note ? ` — ${delivery.note}` : ""));
    if (delivery.article) {
      line(td, "article-title", delivery.article.title || "");
      line(td, "article-preview muted", cut(plain(delivery.article.body_html || ""), PREVIEW_CHARS));
    }
  }

  // A proposal's targets into `td`: each as "Platform: account name", then its texts, then
  // every option chosen for it in words, so nothing is approved (or answered) unseen.
  // `accounts`: account id → {platform, display_name}; `catalogue`: platform name → its
  // registry entry (GET /api/v1/posts/platforms; the operator page has none).
  function targets(td, list, kind, { accounts = new Map(), catalogue = null } = {}) {
    for (const target of list) {
      const account = accounts.get(target.account_id) || {};
      const platform = Object.keys(target).find((k) => k !== "account_id" && target[k] && typeof target[k] === "object")
        || account.platform || "";
      const block = target[platform] || {};
      const item = document.createElement("div");
      item.className = "proposal-target";
      item.dataset.account = target.account_id;
      line(item, "target-where", `${platform ? platformName(platform) : t("Account")}: ${account.display_name || target.account_id}`);
      const texts = TEXTS.filter((k) => typeof block[k] === "string" && block[k].trim());
      // Telegram's texts are HTML (shown as their words); the other platforms' are plain text
      const words = (text) => (platform === "telegram" ? plain(text) : text);
      for (const key of texts) line(item, "target-text", cut(words(block[key]), PREVIEW_CHARS));
      if (!texts.length) line(item, "target-text muted", t("(no text)"));
      const fields = ((catalogue || {})[platform] || {}).fields;
      for (const said of describe(platform, block, kind, fields)) line(item, "target-choice", said);
      td.appendChild(item);
    }
  }

  window.CachalotChoices = {
    TIKTOK_PRIVACY, YOUTUBE_PRIVACY, YOUTUBE_CATEGORIES, describe, what, targets, plain, cut,
  };
})();
