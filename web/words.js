// What the API says, in the page's language (issue 12 item 7): statuses, the codes of a
// target's last error, and problem details (RFC 9457: `detail`, `errors` naming fields).
// One piece for the dashboard (app.js, proposals.js) and the operator's page (operator.js).
//
// - status(value): every status a person meets (a target's, cachalot_common.events
//   TargetStatus; an account's, auth's Account.status; a proposal's, the queue's
//   ProposalStatus) through the catalogue; an unknown one as it is.
// - reason(code, text, platform): a known code of the shared vocabulary
//   (cachalot_publishing.outcome, the queue's account and channel codes, each publisher's own:
//   TikTok's, Instagram's, VK's, Telegram's) in the catalogue's words, prefixed with the
//   platform's name; a code whose text holds the platform's own facts (DETAILED) keeps that
//   text on an English page; any other code keeps the server's text.
// - fieldError(error): one of `errors` ({field, message, type}) worded by the page from its
//   field and type (a publish time refused, a required field, a pattern, a length, a
//   registry refusal by its code and numbers: REFUSALS); the
//   server's message (its validator jargon made plain) only when the page has no words.
// - problem(body, fallback, label): a whole problem: each field error, after its field's label
//   when label(field) gives one; without field errors the server's `detail` on an English
//   page (the server writes English), else the page's own words (`fallback`) and the
//   HTTP status's.
// The tests (tests/browser/test_i18n_catalogues.py) check every status and code of the
// Python vocabularies is here.
"use strict";
(function () {
  const { t, lang } = window.I18N;

  const STATUS = {
    // a target's
    scheduled: () => t("scheduled"),
    dispatched: () => t("dispatched"),
    publishing: () => t("publishing"),
    published: () => t("published"),
    failed: () => t("failed"),
    cancelled: () => t("cancelled"),
    paused: () => t("paused"),
    unconfirmed: () => t("unconfirmed"),
    // an account's
    ok: () => t("ok"),
    reauth_required: () => t("reauth_required"),
    needs_channel: () => t("no channel linked"),
    revoked: () => t("revoked"),
    // a proposal's
    proposed: () => t("proposed"),
    changes_requested: () => t("changes requested"),
    approved: () => t("approved"),
    superseded: () => t("superseded"),
  };
  const own = (map, key) => Object.prototype.hasOwnProperty.call(map, key);
  const status = (value) => (own(STATUS, value) ? STATUS[value]() : String(value ?? ""));
  // A platform as people write it (the registry's keys, cachalot_common.platforms): the
  // same in every language; a key we do not know is shown as it is.
  // The only map of platform names in web/: every page asks `platform(key)` or walks
  // `platforms` (key, name pairs in the registry's order).
  const PLATFORMS = { tiktok: "TikTok", youtube: "YouTube", instagram: "Instagram", vk: "VK", telegram: "Telegram" };
  const platform = (key) => (own(PLATFORMS, key) ? PLATFORMS[key] : String(key ?? ""));
  const platforms = Object.freeze(Object.entries(PLATFORMS));

  const CODES = {
    network: () => t("The platform could not be reached; we will try again."),
    platform_unavailable: () => t("The platform is not answering right now; we will try again."),
    rate_limited: () => t("The platform's limit on posts was reached; we will try again later."),
    processing_timeout: () => t("The platform is still processing the video; we will check again."),
    upload_expired: () => t("The upload to the platform expired; it starts again."),
    upload_conflict: () => t("The platform was still receiving an earlier part of the upload; it goes on shortly."),
    lease_unavailable: () => t("We could not get access to the account just now; we will try again."),
    lease_refused: () => t("Access to the account was refused; reconnect it."),
    reauth_required: () => t("Reconnect this account: the platform no longer accepts its sign-in."),
    consent_required: () => t("Not posted yet: confirm you are 18 or older and give your e-mail address."),
    media_missing: () => t("The file of this post is gone; upload it again."),
    media_changed: () => t("The file of this post changed after it was queued; upload it again."),
    media_invalid: () => t("The file of this post cannot be used; upload it again."),
    media_unreadable: () => t("The file could not be read; we will try again."),
    wrong_platform: () => t("This post was sent to the wrong publisher; contact us."),
    internal_error: () => t("Something went wrong on our side; contact us if it keeps failing."),
    outcome_unknown: () => t("We could not confirm whether the post went out: check the platform, then mark it published or publish it again."),
    no_answer: () => t("The platform did not answer in time; we could not confirm whether the post went out."),
    confirmed_by_client: () => t("Marked as published by you."),
    cancelled: () => t("Cancelled by the client."),
    invalid_target: () => t("The post's stored settings are invalid; queue it again."),
    account_revoked: () => t("The account was disconnected, so this post was cancelled."),
    account_deleted: () => t("The account was removed, so this post was cancelled."),
    account_reassigned: () => t("The account is now connected by someone else, so this post was cancelled."),
    account_unknown: () => t("The account is not connected, so this post was cancelled."),
    account_reauth_required: () => t("The account must be reconnected, so this post was cancelled."),
    channel_not_linked: () => t("Link a channel to this Telegram account first (under Connected accounts)."),
    channel_link_broken: () => t("Our bot can no longer post in the linked channel: make it an administrator again, then link the channel."),
    channel_rights_lost: () => t("You may no longer post in the linked channel (you are not its administrator with the right to post messages): ask the channel's owner to give you that right, or link a channel you may post in."),
    // TikTok's own (cachalot_publisher_tiktok.reasons.PERMANENT)
    unaudited_client_can_only_post_to_private_accounts: () => t("This account may only post privately (“Only me”) until the app is audited by TikTok. Choose “Only me” and queue the post again."),
    privacy_level_option_mismatch: () => t("The chosen privacy level is not available for this account. Choose one the account offers and queue the post again."),
    spam_risk_too_many_posts: () => t("This account has reached its daily posting limit. Try again tomorrow."),
    spam_risk_user_banned_from_posting: () => t("This account is currently banned from posting. Check the account in the TikTok app."),
    reached_active_user_cap: () => t("The app has reached its daily cap of posting users. Try again tomorrow."),
    // a refused read of an account's creator_info (auth's 502 problem `code`, web/composer.js)
    access_token_invalid: () => t("TikTok did not accept this account's sign-in; if this lasts, reconnect the account."),
    scope_not_authorized: () => t("This account did not allow posting when it was connected; reconnect it and allow posting."),
    rate_limit_exceeded: () => t("TikTok asks us to wait; try again in a minute."),
    file_format_check_failed: () => t("The video's format could not be read. Upload an MP4 (H.264) and queue it again."),
    duration_check_failed: () => t("The video's length is not accepted for this account. Trim the video and queue it again."),
    frame_rate_check_failed: () => t("Videos need 23–60 frames per second. Re-export the video and queue it again."),
    picture_size_check_failed: () => t("Videos need 360–4096 pixels on each side. Re-export the video and queue it again."),
    publish_cancelled: () => t("The post was cancelled on the platform."),
    spam_risk_text: () => t("The caption was flagged as spam. Change the caption and queue it again."),
    spam_risk: () => t("This post was flagged as a spam risk and not published."),
    invalid_file_upload: () => t("The uploaded file was refused. Upload the video again."),
    // Instagram's own (cachalot_publisher_instagram.publisher.OWN_CODES)
    instagram_server_error: () => t("The platform had a server error while processing the media; it will be tried again."),
    media_download_timeout: () => t("The platform took too long to download the media from our link; it will be tried again."),
    image_too_large: () => t("An image is larger than 8 MB: make it smaller (or lower its JPEG quality) and post again."),
    unsupported_image_format: () => t("An image's format cannot be used: save each image as a JPEG (sRGB, at most 8 MB) and post again."),
    unsupported_aspect_ratio: () => t("An image's shape is refused: crop it to between 4:5 (portrait) and 1.91:1 (landscape) and post again."),
    container_expired: () => t("The platform's copy of the media expired before it was published; it will be uploaded again."),
    unsupported_video_format: () => t("The video's format cannot be used: export it as MP4 (H.264 video, AAC audio, under 15 minutes and 300 MB) and post again."),
    container_failed: () => t("The platform could not create the post's media; it will be tried again."),
    media_fetch_failed: () => t("The platform could not fetch the media from our link; our team has been told, and it will be tried again."),
    upload_failed: () => t("The platform had an unknown error while taking the media; it will be tried again."),
    processing_failed: () => t("The platform could not process the media. Check that each file opens and meets the platform's requirements, then retry."),
    silent_video: () => t("The video has no sound track (or the added sound could not be used). Add a sound track to the video and post again."),
    publishing_quota_used: () => t("This account reached the platform's limit on posts; the post goes out when the limit frees."),
    media_link_missing: () => t("The platform fetches media from a public link, and none could be made; our team must set the public address. Contact us."),
    unsupported_kind: () => t("The platform cannot take this kind of post."),
    permission_missing: () => t("The account did not grant a right posting needs: reconnect it and allow everything it asks for."),
    // VK's own (cachalot_publisher_vk.publisher.OWN_CODES)
    captcha_required: () => t("VK asks this account to solve a captcha before it may post. Open VK in a browser, make one post by hand, then press Retry."),
    posting_not_allowed: () => t("This account may not post on that wall. Post to your own wall, or to a community where you are an administrator or editor, and check the community allows wall posts."),
    community_not_administered: () => t("This account is not an administrator or editor of the chosen community. Choose a community it manages, or have the community's administrator make it an editor, then retry."),
    platform_rejected: () => t("The platform refused the request. Check the post, then retry."),
    // Telegram's own (cachalot_publisher_telegram.publisher.OWN_CODES; the channel's three are above)
    telegram_refused: () => t("Telegram refused the post. Check its text and files, then retry."),
    bot_unauthorized: () => t("Telegram refused our bot's sign-in; our team must fix it. It will be tried again."),
    telegraph_refused: () => t("Telegraph refused the article's page. Check the article, then retry."),
    article_too_long: () => t("This article is too long for one Telegram message: choose a Telegraph page (or let it be chosen when needed) and queue it again."),
  };
  // A family of codes by its prefix: Instagram's Graph API refusals (`graph_<its code>`).
  const FAMILIES = {
    graph_: () => t("The platform refused the post. Check it, then retry."),
  };
  // Codes whose server text carries the platform's own facts (its message, counts, a
  // window): an English page shows that text, other languages the catalogue's words.
  const DETAILED = new Set(["graph_", "processing_failed", "publishing_quota_used", "platform_rejected",
    "community_not_administered", "telegram_refused", "telegraph_refused", "article_too_long"]);
  function reason(code, text, platform) {
    const family = code && Object.keys(FAMILIES).find((prefix) => String(code).startsWith(prefix));
    const words = code && own(CODES, code) ? CODES[code] : family ? FAMILIES[family] : null;
    if (!words) return String(text || code || "");
    if (lang === "en" && text && DETAILED.has(family || code)) return String(text);
    return platform ? `${platform}: ${words()}` : words();
  }

  // Validator wording into what a person reads: pydantic prefixes its own errors
  // ("Value error, …") and names types ("Input should be a valid string").
  function plainWords(message) {
    let text = String(message || "").replace(/^(Value|Assertion) error,\s*/i, "");
    if (/^Field required$/i.test(text) || /^String should have at least 1 character$/i.test(text)) {
      return t("This is required.");
    }
    const most = /^String should have at most (\d+) characters?$/i.exec(text);
    if (most) return t("At most {n} characters.", { n: Number(most[1]) });
    if (/^value is not a valid email address/i.test(text)) return t("Write a valid e-mail address.");
    if (lang !== "en") return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
    text = text.replace(/\bUTF-16 (?:code )?units\b/g, t("characters (an emoji counts as two)"));
    text = text.replace(/^Input should be (.*)$/i, `${t("Choose")} $1.`);
    if (/^(is|must) /.test(text)) text = `${t("This")} ${text}`; // the server's words follow the field's name
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }

  // A publish time the queue refused, by the error's type (cachalot_queue.posts
  // SCHEDULE_PAST, SCHEDULE_TOO_FAR); any other (pydantic's datetime_parsing,
  // timezone_aware, …) in the page's own words, never the server's English.
  const SCHEDULE = {
    scheduled_in_the_past: () => t("This time is in the past; leave it out to publish now."),
    scheduled_too_far_ahead: () => t("This time is more than a year ahead."),
  };
  function scheduleWords(error) {
    const type = error && error.type;
    return own(SCHEDULE, type) ? SCHEDULE[type]() : t("This time cannot be used: choose another date and time.");
  }

  // By the error's type (pydantic's, or the services' own "missing"/"value_error"), then by
  // its field where the type alone says too little.
  const BY_TYPE = {
    missing: () => t("This is required."),
    string_too_short: () => t("This is required."),
    string_pattern_mismatch: () => t("This is not in the expected form."),
    literal_error: () => t("Choose one of the offered values."),
    enum: () => t("Choose one of the offered values."),
    extra_forbidden: () => t("This is not taken here; leave it out."),
    int_parsing: () => t("Write a whole number."),
    int_type: () => t("Write a whole number."),
    greater_than_equal: () => t("This number is too small."),
    less_than_equal: () => t("This number is too large."),
    url_parsing: () => t("Give a full link starting with https://."),
    url_scheme: () => t("Give a full link starting with https://."),
    uuid_parsing: () => t("This is not one of the offered choices."),
    json_invalid: () => t("The request could not be read; reload the page and try again."),
    already_exists: () => t("This already exists; choose another name."),
    // an uploaded file the queue cannot use (cachalot_queue.probe.UnusableCode)
    media_damaged: () => t("The file is damaged or cannot be read; upload it again."),
    media_no_video_stream: () => t("The file has no picture: a sound-only file is not a video."),
    media_still_picture: () => t("The video is one still picture over sound; upload a real video."),
    media_mostly_sound: () => t("Most of the file is sound without picture; upload a video whose picture lasts."),
    media_cut_short: () => t("The file is cut short; upload the whole file again."),
    media_no_size: () => t("The file does not say how large its picture is; export it again."),
    media_too_large: () => t("The picture is too large; make it smaller and upload it again."),
    // a Telegram channel that cannot be linked (auth's ChannelRefused codes)
    channel_bot_cannot_post: () => t("Our bot is an administrator of that channel but may not post: allow it to post messages, then try again."),
    channel_bot_not_admin: () => t("Our bot is not an administrator of that channel: add it as an administrator allowed to post messages, then try again."),
    channel_not_channel_admin: () => t("You are not an administrator of that channel."),
    channel_person_cannot_post: () => t("You are an administrator of that channel without the right to post messages: ask its owner to allow you to post messages, then try again."),
    channel_channel_unknown: () => t("Telegram knows no such channel: check the @name or id (for a private channel, add our bot as an administrator first)."),
    channel_not_a_channel: () => t("That is a group or a chat, not a channel."),
    channel_telegram_not_set_up: () => t("Telegram is not set up on this server; contact us."),
    channel_not_telegram: () => t("Only a Telegram account links a channel."),
    channel_no_telegram_account: () => t("Sign in with Telegram first, then link a channel."),
    channel_telegram_account_revoked: () => t("This Telegram account was disconnected: sign in with Telegram again, then link a channel."),
    channel_telegram_refused: () => t("Telegram refused: check the channel, then try again."),
    channel_telegram_busy: () => t("Telegram asks us to wait; try again in a minute."),
    channel_account_unnamed: () => t("You have more than one Telegram account: link the channel from that account's own row."),
    channel_telegram_unavailable: () => t("Telegram is not answering; try again in a few minutes."),
  };
  // The registry's refusals (cachalot_common.refusals.REFUSALS): each by its code, with the
  // numbers the error entry carries (limit, unit, count, min, max, allowed, …).
  const number = (value) => window.I18N.count(Number(value)); // as the composer's counters write them
  const span = (min, max) => (min != null && max != null ? `${number(min)}–${number(max)}`
    : max != null ? t("at most {value}", { value: number(max) }) : t("at least {value}", { value: number(min) }));
  // post kinds (cachalot_common.platforms.spec.POST_KINDS) as the posts list words them
  const KINDS = { video: t("video"), photo: t("photo post"), article: t("article") };
  const kindWords = (allowed) => String(allowed || "").split(",").map((value) => value.trim()).filter(Boolean)
    .map((value) => KINDS[value] || value).join(", ");
  // TikTok's privacy levels as the composer words them (choices.js loads after this file)
  const privacyWords = (allowed) => String(allowed || "").split(",").map((value) => value.trim()).filter(Boolean)
    .map((value) => ((window.CachalotChoices || {}).TIKTOK_PRIVACY || {})[value] || value).join(", ");
  const REFUSALS = {
    text_too_long: (e) => (e.unit === "utf16" ? t("At most {n} characters (an emoji counts as two).", { n: Number(e.limit) })
      : e.unit === "bytes" ? t("At most {n} bytes (a letter outside the Latin alphabet takes two or more).", { n: Number(e.limit) })
        : t("At most {n} characters.", { n: Number(e.limit) })),
    too_many_hashtags: (e) => t("At most {n} hashtags.", { n: Number(e.limit) }),
    too_many_mentions: (e) => t("At most {n} @mentions.", { n: Number(e.limit) }),
    html_invalid: () => t("The formatting is broken: check that each tag is closed."),
    angle_brackets: () => t("Leave out the characters < and >."),
    empty_tag: () => t("A tag may not be empty."),
    branded_content_private: () => t("Branded content cannot be posted as “Only me”: choose who can see it, or turn branded content off."),
    not_a_wall: () => t("Choose a wall: your own, or a community you manage."),
    kind_not_taken: (e) => t("This platform cannot take this kind of post; it takes: {allowed}.", { allowed: kindWords(e.allowed) }),
    option_not_for_kind: (e) => t("This setting is only for: {allowed}. Leave it out.", { allowed: kindWords(e.allowed) }),
    too_many_images: (e) => t("At most {n} images in a post.", { n: Number(e.limit) }),
    article_too_large: (e) => t("The article is too large for a Telegraph page ({count} KB of at most {limit} KB): shorten it.", { count: number(Math.ceil(Number(e.count) / 1024)), limit: number(Math.floor(Number(e.limit) / 1024)) }),
    cover_needs_preview: (e) => t("A cover shows above a message of more than {limit} characters (this one has {count}) only as its link preview: turn the link preview on, choose a Telegraph page, or remove the cover.", { count: number(e.count), limit: number(e.limit) }),
    article_too_long_for_message: (e) => t("The article is too long for one message ({count} characters of at most {limit}, an emoji counting as two): choose a Telegraph page.", { count: number(e.count), limit: number(e.limit) }),
    cover_past_end: (e) => t("The cover frame at {at} s is past the end of the video ({length} s).", { at: number(Number(e.count) / 1000), length: number(Number(e.limit) / 1000) }),
    cover_index: (e) => t("The cover must be one of the post's {n} images.", { n: Number(e.count) }),
    file_type: (e) => t("This type of file is not taken here; it takes {allowed}.", { allowed: String(e.allowed) }),
    file_too_large: (e) => t("The file is too large: at most {n} MB.", { n: Number((Number(e.limit) / 1048576).toFixed(1)) }),
    duration_too_long: (e) => t("The video is too long: at most {n} seconds.", { n: Number(e.limit) }),
    duration_too_short: (e) => t("The video is too short: at least {n} seconds.", { n: Number(e.limit) }),
    frame_rate: (e) => t("Frames per second must be {range}.", { range: span(e.min, e.max) }),
    video_codec: (e) => t("This video codec is not taken here; it takes {allowed}.", { allowed: String(e.allowed) }),
    side_size: (e) => t("Each side must be {range} pixels.", { range: span(e.min, e.max) }),
    too_wide: (e) => t("At most {n} pixels wide.", { n: Number(e.limit) }),
    picture_too_large: (e) => t("The picture is too large: at most {long} pixels on its long side and {short} on its short side.", { long: number(e.long), short: number(e.short) }),
    sides_sum: (e) => t("Width plus height must be at most {n} pixels.", { n: Number(e.limit) }),
    aspect_ratio: (e) => t("The shape is not taken: width divided by height must be {range}.", { range: span(e.min, e.max) }),
    privacy_not_offered: (e) => t("This account does not offer this privacy level: choose one it offers ({allowed}).", { allowed: privacyWords(e.allowed) }),
    interaction_off: () => t("This account has turned this off in the TikTok app: turn it off here too."),
  };
  // refusals whose `count` is the post's own count in the unit of their `limit`
  const COUNTED = new Set(["text_too_long", "too_many_hashtags", "too_many_mentions", "too_many_images"]);
  // media refusals (cachalot_queue.probe) whose server words state the file's own numbers
  const SERVER_FACTS = new Set(["media_still_picture", "media_mostly_sound", "media_cut_short", "media_too_large"]);
  const lastName = (field) => String(field || "").split(".").pop().replace(/\[\d+\]$/, "");

  function fieldError(error) {
    const name = lastName(error.field);
    if (name === "scheduled_at" && error.type !== "missing") return scheduleWords(error);
    if (error.type === "string_too_long") {
      const most = /at most (\d+)/i.exec(error.message || "");
      if (most) return t("At most {n} characters.", { n: Number(most[1]) });
    }
    // a file's refusal whose words carry the file's own facts (its lengths, its size), and a
    // Telegram channel's (its words name our bot's @username): the English page keeps the
    // server's words; another language, and a refusal without facts (media_damaged carries
    // FFmpeg's own wording), is worded by its code
    if ((SERVER_FACTS.has(error.type) || /^channel_/.test(error.type || "")) && lang === "en" && error.message) {
      return plainWords(error.message);
    }
    // a registry refusal: by its code and numbers in every language (the numbers written as
    // the composer's counters write them, I18N.count), and the post's own count after it
    if (own(REFUSALS, error.type)) {
      const words = REFUSALS[error.type](error);
      return COUNTED.has(error.type) && error.count != null
        ? `${words} ${t("This one has {count}.", { count: number(error.count) })}` : words;
    }
    if (own(BY_TYPE, error.type)) return BY_TYPE[error.type]();
    if (name === "email") return t("Write a valid e-mail address.");
    return plainWords(error.message);
  }

  const STATUS_WORDS = {
    400: () => t("The request was refused."),
    401: () => t("You are signed out; sign in again."),
    403: () => t("You are not allowed to do this."),
    404: () => t("It no longer exists."),
    409: () => t("It changed meanwhile; reload the page and try again."),
    413: () => t("It is too large."),
    415: () => t("This type of file is not taken."),
    422: () => t("Something in the form is not right."),
    429: () => t("Too many requests; wait a minute and try again."),
  };
  function problem(body, fallback, label = () => "") {
    const errors = body && Array.isArray(body.errors) ? body.errors : [];
    if (errors.length) {
      return errors.map((e) => [label(e.field), fieldError(e)].filter(Boolean).join(": ")).join(" ");
    }
    if (!body) return fallback;
    if (lang === "en" && body.detail) return body.detail;
    const code = Number(body.status);
    const words = own(STATUS_WORDS, code) ? STATUS_WORDS[code]()
      : code >= 500 ? t("The server had a problem; try again in a minute.") : "";
    return [fallback, words].filter(Boolean).join(" ") || body.detail || "";
  }

  window.CachalotWords = { status, platform, platforms, reason, fieldError, problem, plainWords, scheduleWords, knownCodes: Object.keys(CODES) };
})();
