// A read of a post never moves a target back to an older state (issue 12; s10 saw a
// published target shown "dispatched"): a read begun before a live status event and
// answered after it carries the state before the event, and an event replayed late
// carries one older than a read. Each target's state is stamped with when the queue set
// it — the API's `updated_at`, a status event's `occurred_at`, both the queue's clock
// (cachalot_queue.transitions writes the row's time, then the event) — and whichever
// is newer is shown, whichever arrives last. One store per page, shared by every list
// that shows posts (app.js's table, schedule.js's list and calendar), so a read by one
// cannot undo an event another applied.
"use strict";
(function () {
  const STATE_FIELDS = ["status", "bytes_sent", "bytes_total", "remote_url", "last_error", "last_error_code"];
  const seen = new Map(); // target id → {at (µs since the epoch), fields (the status and what goes with it)}

  // An ISO time in µs since the epoch (the API's times have µs; Date.parse keeps ms only).
  function instant(iso) {
    const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(iso || "");
    if (!m) return 0;
    return Date.parse(m[1] + (m[3] || "Z")) * 1000 + Number(((m[2] || "") + "000000").slice(0, 6));
  }
  // Whether a state stamped `at` (µs) is older than the one shown for `targetId`.
  function older(targetId, at) {
    const known = seen.get(targetId);
    return Boolean(known && known.at > at);
  }
  // Whether `target`'s state stamped `at` is not older than the one shown; then it is kept.
  function remember(target, at) {
    if (older(target.id, at)) return false;
    seen.set(target.id, { at, fields: Object.fromEntries(STATE_FIELDS.map((k) => [k, target[k]])) });
    return true;
  }
  // `post` (PostPublic, changed in place and returned) as read from the server, each
  // target's state kept from a newer one already shown.
  function newest(post) {
    for (const target of post.targets || []) {
      if (!remember(target, instant(target.updated_at))) Object.assign(target, seen.get(target.id).fields);
    }
    return post;
  }
  window.CachalotNewest = { instant, older, remember, newest };
})();
