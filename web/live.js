// CACHALOT dashboard and operator page: live updates pushed by the server
// (Server-Sent Events; the queue's cachalot_queue.live says what is sent).
//
// window.CachalotLive.start(handlers, options) opens the stream while the signed-in
// part of the page is shown (the section options.section, "posts" by default, is
// visible) and closes it when it is hidden (signed out). options.url is the stream:
// GET /api/v1/events (the client's, by default) or GET /api/v1/operator/events (the
// operator's: every client's proposal events). The browser's EventSource reconnects by itself and sends the last event
// id (Last-Event-ID), so the server replays what was missed; when it cannot
// (the gap is too old, or this is a first connection) its "ready" event says
// {resumed: false} and the lists are read again (handlers.reload). When the
// browser gives up (an answer other than 200, e.g. 503 while the queue restarts)
// a new EventSource is opened later with the last id in ?resume=.
//
// While the stream is down the lists are refreshed slowly (every FALLBACK_MS),
// and only then; the connection state is said in #live-state (role=status).
//
// handlers: {status(data), account(data), proposal(data), reload(), ended(), refresh()}
// (the events a page does not take need no handler).
(function () {
  "use strict";

  const EVENTS = ["status", "account", "proposal"]; // the data events (cachalot_queue.live)
  const FALLBACK_MS = 30000; // the slow refresh while the stream is down
  const DOWN_AFTER_MS = 5000; // reconnecting this long counts as down
  const RETRY_MS = [2000, 5000, 10000, 30000]; // a stream the browser gave up on

  const t = window.I18N.t; // web/i18n.js
  const TEXT = {
    connecting: t("Live updates: connecting…"),
    on: t("Live updates: on"),
    reconnecting: t("Live updates: reconnecting…"),
    off: t("Live updates: off — the lists refresh every 30 seconds"),
  };

  function stateElement(sectionId) {
    let el = document.getElementById("live-state");
    if (el) return el;
    el = document.createElement("p");
    el.id = "live-state";
    el.className = "muted live-state";
    el.setAttribute("role", "status");
    el.setAttribute("aria-live", "polite");
    const section = document.getElementById(sectionId);
    const heading = section && section.querySelector("h2");
    if (heading) heading.after(el);
    else if (section) section.prepend(el);
    return el;
  }

  function start(handlers, options = {}) {
    const URL = options.url || "/api/v1/events";
    const SECTION = options.section || "posts";
    let source = null;
    let fallback = null; // the slow refresh timer while the stream is down
    let downTimer = null; // reconnecting → counted as down after DOWN_AFTER_MS
    let retryTimer = null; // a new EventSource after the browser gave up
    let failures = 0;
    let lastId = ""; // the id of the last event seen, to resume a stream opened anew

    function say(state) {
      const el = stateElement(SECTION);
      if (el.dataset.state === state) return;
      el.dataset.state = state;
      el.textContent = TEXT[state];
    }

    function startFallback() {
      if (fallback) return;
      say("off");
      fallback = setInterval(() => {
        if (!document.hidden) handlers.refresh();
      }, FALLBACK_MS);
    }

    function stopFallback() {
      if (fallback) clearInterval(fallback);
      fallback = null;
      if (downTimer) clearTimeout(downTimer);
      downTimer = null;
    }

    function parsed(event) {
      try {
        return JSON.parse(event.data);
      } catch (error) {
        return null;
      }
    }

    function open() {
      if (source) return;
      say(failures ? "reconnecting" : "connecting");
      // a new EventSource cannot send Last-Event-ID: the last id goes in the query
      source = new EventSource(lastId ? `${URL}?resume=${encodeURIComponent(lastId)}` : URL);
      const remember = (event) => { if (event.lastEventId) lastId = event.lastEventId; };
      for (const name of ["ready", ...EVENTS]) source.addEventListener(name, remember);
      source.addEventListener("ready", (event) => {
        failures = 0;
        stopFallback();
        say("on");
        const data = parsed(event);
        stateElement(SECTION).dataset.resumed = String(Boolean(data && data.resumed));
        if (!data || !data.resumed) handlers.reload();
      });
      for (const name of EVENTS) {
        source.addEventListener(name, (event) => {
          const data = parsed(event);
          if (data && handlers[name]) handlers[name](data);
        });
      }
      source.addEventListener("ended", () => {
        close();
        say("off");
        handlers.ended();
      });
      source.onerror = () => {
        if (!source) return;
        if (source.readyState === EventSource.CLOSED) {
          // the browser will not retry (a 401, a 5xx): we do, more and more slowly
          source = null;
          failures += 1;
          startFallback();
          const wait = RETRY_MS[Math.min(failures - 1, RETRY_MS.length - 1)];
          retryTimer = setTimeout(() => { retryTimer = null; if (wanted()) open(); }, wait);
          return;
        }
        failures += 1;
        say("reconnecting");
        if (!downTimer && !fallback) downTimer = setTimeout(() => { downTimer = null; startFallback(); }, DOWN_AFTER_MS);
      };
    }

    function close() {
      if (source) source.close();
      source = null;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      stopFallback();
    }

    function wanted() {
      const section = document.getElementById(SECTION);
      return Boolean(section) && !section.classList.contains("hidden");
    }

    function follow() {
      if (wanted()) open();
      else { close(); failures = 0; lastId = ""; }
    }

    const section = document.getElementById(SECTION);
    if (section) new MutationObserver(follow).observe(section, { attributes: true, attributeFilter: ["class"] });
    follow();
    return { close, state: () => stateElement(SECTION).dataset.state };
  }

  // Lists read again while events arrive overlap (a burst of events, a refresh beside a
  // connect, an upload's read and Queue's): an answer is drawn only when no read sent after
  // it has been drawn, so one that comes late never puts back an earlier moment's list
  // (CI, 2026-12-02: "Your media" read before Queue came back after the read made after
  // it, and a video's "Posts" went back to 0). One per list: `sent()` numbers a read as it
  // goes; `drawable(n)` says whether read n's answer may be drawn, and counts it as drawn.
  function inOrder() {
    let last = 0;
    let drawn = 0;
    return {
      sent: () => ++last,
      drawable(n) {
        if (n < drawn) return false;
        drawn = n;
        return true;
      },
    };
  }

  window.CachalotLive = { start, inOrder };
})();
