// Uploads and the media library of the dashboard (issue 12, item 3). Plain JS, no
// build step; loaded before app.js, which calls window.CachalotUploads.
//
// Uploads are resumable: the tus 1.0.0 protocol with tus-js-client (vendored in
// /vendor/tus-js-client, see /vendor/README.md) against the queue's
// /api/v1/media/uploads. A file goes in pieces (PATCH) with a progress bar; Pause
// stops it and Resume asks the server where it stands (HEAD) and goes on from
// there; Cancel deletes what was sent. When the browser says it is offline, the upload
// waits for the "online" event and resumes by itself. Otherwise a failed piece is tried
// again (the library's RETRY_DELAYS_MS, ~19 s, then the page's own tries, further apart
// each time, WAIT_DELAYS_MS) for WAIT_FOR_SERVER_MS after the last piece that went
// through: a queue restarting under the upload (kill -9, a deploy: the gateway answers
// 503 for ~30 s and longer under load) is waited out by itself. From the second failed
// try on the page says it waits for the server (#upload-progress) and Resume tries at
// once; after WAIT_FOR_SERVER_MS it asks for Resume. Cancel deletes at any time, the server
// there or not (dropLater: an upload left to its expiry would hold its bytes against the
// client's quota for a day, which Cancel must not do). The upload
// keeps its address and goes on from the offset the server kept. A page reloaded mid-upload finds the
// upload again (tus-js-client keeps its address in localStorage) when the same
// file is chosen, unless another open tab sends it or holds it paused (lockUpload):
// then this tab makes an upload of its own. The server checks the finished file as it
// checks a plain upload.
//
// The library lists the client's files with a small picture, duration and size, the
// posts made with each, "Use in a new post" and "Delete" (which first says which posts
// use the file, and refuses while a post not yet published needs it).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const { t, locale, number } = window.I18N; // web/i18n.js
  const WHEN = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
  const when = (iso) => WHEN.format(new Date(iso));
  const pc = (value) => number(value / 100, { style: "percent", maximumFractionDigits: 0 });
  const ENDPOINT = "/api/v1/media/uploads";
  // Bytes per PATCH: what a dropped connection can cost at most. A page (or a test)
  // may set window.CACHALOT_UPLOAD_CHUNK_BYTES before choosing a file.
  const CHUNK_BYTES = 8 * 1024 * 1024;
  const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000];
  // After the library's retries: the page's own tries while the server is away (a
  // restart), the last delay repeated, for at most WAIT_FOR_SERVER_MS.
  const WAIT_DELAYS_MS = [2000, 5000, 10000, 15000];
  const WAIT_FOR_SERVER_MS = 5 * 60 * 1000;
  let reused = null; // a library file chosen for the next video post (the media item)

  function formatBytes(n) {
    const units = [t("bytes"), t("KiB"), t("MiB"), t("GiB"), t("TiB")];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return i === 0
      ? t("{size} bytes", { size: number(n), n })
      : `${number(n, { minimumFractionDigits: 1, maximumFractionDigits: 1 })} ${units[i]}`;
  }

  function formatDuration(seconds) {
    if (seconds == null) return "";
    const whole = Math.round(seconds);
    const m = Math.floor(whole / 60);
    const s = String(whole % 60).padStart(2, "0");
    return `${m}:${s}`;
  }

  // The media id of a finished upload: its address ends in the 32 hex digits of it.
  function mediaIdOf(url) {
    const hex = String(url).split("/").pop();
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  async function json(path, options = {}) {
    const response = await fetch(path, { credentials: "same-origin", ...options });
    const type = response.headers.get("content-type") || "";
    const body = type.includes("json") ? await response.json().catch(() => null) : null;
    return { status: response.status, ok: response.ok, body };
  }

  // `request()` (resolving to json()'s shape) tried again while the server is away: no
  // answer, 502, 503 or 504 (RFC 9110 §15.6.3–15.6.5: the gateway found the service down,
  // not ready, or too slow, as while the queue restarts; a 500 is an answer, said at
  // once), further apart each time (WAIT_DELAYS_MS), for at most WAIT_FOR_SERVER_MS (the
  // last wait cut to what is left of it). `onWait()` runs before each wait;
  // `wanted()` false (a cancel) stops the tries; `sleep(ms)` waits (the caller may hold
  // its timer). A request that is not safe to repeat carries one Idempotency-Key for
  // every try (RFC 9110 §9.2.2: POST is not idempotent by itself).
  async function untilAnswered(request, { onWait = () => {}, wanted = () => true,
    sleep = (ms) => new Promise((done) => setTimeout(done, ms)) } = {}) {
    const attempt = async () => {
      try { return await request(); } catch (e) { return { status: 0, ok: false, body: null }; }
    };
    const away = (got) => [0, 502, 503, 504].includes(got.status);
    let got = await attempt();
    const since = Date.now();
    // a page (or a test) may set window.CACHALOT_WAIT_FOR_SERVER_MS before it asks
    const limit = Number(window.CACHALOT_WAIT_FOR_SERVER_MS) || WAIT_FOR_SERVER_MS;
    for (let tried = 0; wanted() && away(got) && Date.now() - since < limit; tried += 1) {
      onWait();
      const left = limit - (Date.now() - since);
      await sleep(Math.min(WAIT_DELAYS_MS[Math.min(tried, WAIT_DELAYS_MS.length - 1)], left));
      if (wanted()) got = await attempt();
    }
    return got;
  }

  // tus-js-client starts a new upload, from 0 %, when its HEAD (where does the server
  // stand?) is answered anything but 2xx or 423: a queue restarting behind the gateway
  // answers 503. Such an answer is made a failed request here, which the library tries
  // again after RETRY_DELAYS_MS and then hands to onError (the upload waits, paused);
  // the next HEAD that the server answers gives the offset it kept.
  function resumingHttpStack() {
    const inner = new window.tus.DefaultHttpStack({});
    return {
      getName: () => "CachalotResumingHttpStack",
      createRequest(method, url) {
        const request = inner.createRequest(method, url);
        if (method !== "HEAD") return request;
        const send = request.send.bind(request);
        request.send = async (body) => {
          const response = await send(body);
          // (the error is the library's to retry, never shown: onError words the pause)
          if (response.getStatus() >= 500) throw new Error(`tus_head_${response.getStatus()}`);
          return response;
        };
        return request;
      },
    };
  }

  // One tab per upload (Web Locks, a lock named after the upload's address): the tab that
  // sends an upload, or holds it paused, holds its lock until its upload() settles, and a
  // tab choosing a previous upload skips those whose lock is taken. The fingerprint that
  // finds a previous upload (file name, type, size, date) is in localStorage, which every
  // tab of the origin shares: a second tab choosing the same file resumed the first tab's
  // upload, both sent ONE upload, and Cancel in either deleted the other's (tabs15; two
  // tabs racing one upload also caused fresh14r and fresh14s). The browser frees a tab's
  // locks when it closes or reloads, so a reload, or the next visit, still resumes its
  // upload. Without Web Locks (an old browser; a page not on https or localhost) uploads
  // are shared between tabs as before. `url`: the upload's absolute address. Resolves to a
  // function freeing the lock, or to null when another tab holds it.
  const LOCK_PREFIX = "cachalot-upload:";
  function lockUpload(url) {
    if (!(navigator.locks && navigator.locks.request)) return Promise.resolve(() => {});
    const name = LOCK_PREFIX + url;
    return new Promise((taken) => {
      navigator.locks.request(name, { ifAvailable: true }, (lock) => {
        if (!lock) { taken(null); return null; }
        return new Promise((free) => taken(free)); // held until free() is called
      }).catch(() => taken(() => {})); // no lock could be asked for: as without Web Locks
    });
  }

  // Cancel pressed while the server is away (a restart): the upload is dropped once it is
  // back. The server could instead drop sooner the uploads no page holds, but it cannot tell
  // them from an upload paused on purpose, or one whose laptop sleeps, which people expect
  // to resume for the day it is kept; a cancelled one is the page's to drop. Its address is
  // kept in localStorage until the server says it is gone, so a reload, or the next visit,
  // finishes it too; it is tried again at once, further apart each time (WAIT_DELAYS_MS),
  // and when the browser is back online. The tus fingerprint goes at once, so choosing the
  // same file again never resumes an upload about to be dropped.
  const DROPPING = "cachalot.uploads.dropping";
  let dropTimer = null;
  let dropTries = 0;
  function dropping() {
    try { return JSON.parse(localStorage.getItem(DROPPING)) || []; } catch (e) { return []; }
  }
  function setDropping(urls) {
    if (urls.length) localStorage.setItem(DROPPING, JSON.stringify(urls));
    else localStorage.removeItem(DROPPING);
  }
  async function dropLeft() {
    clearTimeout(dropTimer);
    dropTimer = null;
    let again = false;
    for (const url of dropping()) {
      let status = 0;
      try {
        status = (await fetch(url, { method: "DELETE", credentials: "same-origin", headers: { "Tus-Resumable": "1.0.0" } })).status;
      } catch (e) { status = 0; } // the network or the server is away
      if (status === 0 || status >= 500) { again = true; continue; }
      // 204: dropped; 404/410: gone already. 401: signed out: the next visit tries again
      if (status !== 401) setDropping(dropping().filter((u) => u !== url));
    }
    if (again && !dropTimer) {
      dropTimer = setTimeout(dropLeft, WAIT_DELAYS_MS[Math.min(dropTries, WAIT_DELAYS_MS.length - 1)]);
      dropTries += 1;
    } else if (!again) dropTries = 0;
  }
  async function dropLater(task) {
    const url = task.url;
    setDropping([...dropping().filter((u) => u !== url), url]);
    try {
      for (const previous of await task.findPreviousUploads()) {
        if (previous.uploadUrl === url) await task.options.urlStorage.removeUpload(previous.urlStorageKey);
      }
    } catch (e) { /* no storage: nothing to resume by */ }
    dropLeft();
  }
  window.addEventListener("online", dropLeft);
  if (dropping().length) dropLeft();

  // Uploads `file` with the form's bar, words and buttons. Resolves to api()'s shape:
  // {status: 201, body: media} once stored; the server's refusal as it answered
  // (413 quota, 415 type, 422 unusable…); {status: 0} when the client cancelled.
  function upload(file) {
    const bar = $("upload-bar");
    const words = $("upload-progress");
    const pause = $("upload-pause");
    const cancel = $("upload-cancel");
    const controls = $("upload-controls");
    const chunk = Number(window.CACHALOT_UPLOAD_CHUNK_BYTES) || CHUNK_BYTES;
    return new Promise((resolve) => {
      let paused = false;
      let finished = false;
      let cancelling = null; // Cancel pressed before that answer: drop the upload once it comes
      let percent = 0;
      let retryTimer = null; // the page's next try while the server is away
      let waitingSince = null; // when the server stopped taking pieces (ms), or null
      let tries = 0; // the page's tries since then
      let waiting = false; // "Waiting for the server" is said (a try is due, the library's or ours)
      const held = new Map(); // the upload addresses whose locks this upload holds → free()
      // true once this upload holds `url`'s lock (lockUpload), false if another tab does
      const hold = async (url) => {
        const key = new URL(url, window.location.href).href;
        if (held.has(key)) return true;
        const free = await lockUpload(key);
        if (free === null) return false;
        if (finished || held.has(key)) free(); // settled meanwhile, or taken twice
        else held.set(key, free);
        return true;
      };
      const stopWaiting = () => { clearTimeout(retryTimer); retryTimer = null; };
      const say = (text) => { words.textContent = text; };
      const setBar = (value) => {
        percent = value;
        bar.value = value;
        bar.setAttribute("value", String(value));
      };
      const waitForServer = () => {
        if (waitingSince === null) waitingSince = Date.now();
        waiting = true;
        pause.textContent = t("Resume");
        say(t("Waiting for the server: the upload of {file} stopped at {percent} and goes on by itself when the server answers. Resume tries now.", { file: file.name, percent: pc(percent) }));
      };
      const end = (result) => {
        if (finished) return;
        finished = true;
        stopWaiting();
        for (const free of held.values()) free(); // another tab may resume it now
        held.clear();
        window.removeEventListener("online", whenOnline);
        controls.classList.add("hidden");
        pause.onclick = null;
        cancel.onclick = null;
        resolve(result);
      };
      const task = new window.tus.Upload(file, {
        endpoint: ENDPOINT,
        chunkSize: chunk,
        retryDelays: RETRY_DELAYS_MS,
        httpStack: resumingHttpStack(),
        metadata: { filename: file.name, filetype: file.type || "application/octet-stream" },
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: true,
        // the library's rule (any answer but 4xx, and 409/423; a network error), and 408 (a
        // piece whose body stopped coming for a minute: the laptop slept) while
        // online: from its second failed try the page says it waits for the server
        onShouldRetry(error, attempt) {
          const answer = error && error.originalResponse;
          const status = answer ? answer.getStatus() : 0;
          const again = !(status >= 400 && status < 500) || status === 408 || status === 409 || status === 423;
          if (!again || navigator.onLine === false || paused || cancelling) return again && navigator.onLine !== false;
          if (attempt >= 1) waitForServer();
          return true;
        },
        onUploadUrlAvailable() {
          // a new upload: its lock is asked for before the library stores its address in
          // localStorage, where another tab could find it (a resumed one holds it already)
          hold(task.url);
          if (cancelling) cancelling(); // Cancel came while the server was creating it
        },
        onProgress(sent, total) {
          if (!total) return;
          waitingSince = null; // the server takes pieces again
          tries = 0;
          waiting = false;
          if (!paused) pause.textContent = t("Pause");
          setBar(Math.floor((100 * sent) / total));
          if (!paused) say(t("Uploading {file}: {percent}", { file: file.name, percent: pc(percent) }));
        },
        async onSuccess() {
          setBar(100);
          say(t("Uploaded {file}; checking it…", { file: file.name }));
          // every byte is stored: a queue restarting now (no answer, 5xx) is waited out
          // here as between pieces, never taken for a failed upload (that cost a second
          // whole upload: fresh12h)
          const media = `/api/v1/media/${mediaIdOf(task.url)}`;
          const got = await untilAnswered(() => json(media), {
            onWait: () => say(t("Uploaded {file}; waiting for the server to check it…", { file: file.name })),
            wanted: () => !finished,
            sleep: (ms) => new Promise((done) => { retryTimer = setTimeout(done, ms); }),
          });
          if (finished) return; // cancelled while it waited
          say(got.ok ? t("Uploaded {file}.", { file: file.name }) : "");
          end(got.ok ? { status: 201, ok: true, body: got.body } : got);
        },
        async onError(error) {
          if (cancelling) { cancelling(); return; } // nothing was created: cancelled all the same
          const answer = error && error.originalResponse;
          const status = answer ? answer.getStatus() : 0;
          if (status === 404 && task.url) {
            // gone because it is stored: another tab sending the same file (they share its
            // upload) sent the last piece first (fresh14s); this post uses that media
            const stored = await json(`/api/v1/media/${mediaIdOf(task.url)}`).catch(() => ({ ok: false }));
            if (finished) return;
            if (stored.ok) {
              setBar(100);
              say(t("Uploaded {file}.", { file: file.name }));
              end({ status: 201, ok: true, body: stored.body });
              return;
            }
          }
          if (status >= 400 && status < 500) {
            // refused for good (quota, type, unusable file, the upload expired)
            let body = null;
            try { body = JSON.parse(answer.getBody()); } catch (e) { body = null; }
            say("");
            end({ status, ok: false, body });
            return;
          }
          // the connection went (or the server could not answer): keep what was sent
          paused = true;
          pause.textContent = t("Resume");
          stopWaiting();
          if (navigator.onLine === false) { // the "online" event resumes it
            say(t("Connection lost at {percent} of {file}; the upload goes on when you are back online.", { file: file.name, percent: pc(percent) }));
            return;
          }
          if (waitingSince !== null && Date.now() - waitingSince >= WAIT_FOR_SERVER_MS) {
            waiting = false;
            say(t("The upload of {file} stopped at {percent}; press Resume to go on.", { file: file.name, percent: pc(percent) }));
            return;
          }
          // the server is away (a restart): wait for it, trying again by itself
          waitForServer();
          const delay = WAIT_DELAYS_MS[Math.min(tries, WAIT_DELAYS_MS.length - 1)];
          tries += 1;
          retryTimer = setTimeout(() => {
            retryTimer = null;
            if (paused && !finished && !cancelling) resume({ quiet: true });
          }, delay);
        },
      });
      // `quiet`: the page's own try while it waits for the server (its words stay)
      function resume({ quiet = false } = {}) {
        if (finished) return;
        stopWaiting();
        const retrying = waiting && !paused; // the library's own next try is due: now instead
        paused = false;
        if (!quiet) {
          waiting = false;
          pause.textContent = t("Pause");
          say(t("Resuming {file} at {percent}…", { file: file.name, percent: pc(percent) }));
        }
        // asks the server where it stands (HEAD), then sends the rest
        if (retrying) task.abort(false).then(() => task.start(), () => task.start());
        else task.start();
      }
      function whenOnline() {
        if (paused && !finished) resume();
      }
      window.addEventListener("online", whenOnline);
      pause.textContent = t("Pause");
      pause.onclick = () => {
        if (paused || waiting) { resume(); return; }
        paused = true;
        stopWaiting();
        task.abort(false); // the server keeps what it has
        pause.textContent = t("Resume");
        say(t("Paused at {percent} of {file}.", { file: file.name, percent: pc(percent) }));
      };
      const drop = async () => {
        cancelling = null;
        if (waitingSince !== null) { // the server is away: dropped once it is back
          await task.abort(false);
          if (task.url) await dropLater(task);
        } else {
          try { await task.abort(true); } catch (e) { if (task.url) await dropLater(task); }
        }
        say(t("The upload of {file} was cancelled.", { file: file.name }));
        end({ status: 0, ok: false, cancelled: true, body: { detail: t("The upload was cancelled.") } });
      };
      cancel.onclick = () => {
        if (cancelling) return;
        paused = true;
        stopWaiting();
        say(t("Cancelling {file}…", { file: file.name }));
        // Aborting the creation request in flight would leave whatever the server made
        // with no address to delete it by (held against the quota until it expires):
        // wait for its answer, then DELETE (tus 1.0.0, Termination extension).
        if (!task.url && !finished) { cancelling = drop; return; }
        drop();
      };
      setBar(0);
      bar.max = 100;
      bar.classList.remove("hidden");
      controls.classList.remove("hidden");
      say(t("Uploading {file}: {percent}", { file: file.name, percent: pc(0) }));
      task.findPreviousUploads().then(async (previous) => {
        // the first previous upload of this file no other open tab sends or holds paused;
        // none: a new upload (Cancel here then never deletes another tab's)
        for (const one of previous) {
          if (one.uploadUrl && await hold(one.uploadUrl)) {
            task.resumeFromPreviousUpload(one);
            break;
          }
        }
        task.start();
      });
    });
  }

  // A library file chosen for the next video post (shown under the file input).
  function reuse(item) {
    reused = item;
    const note = $("video-reused");
    note.textContent = "";
    if (!item) { note.classList.add("hidden"); return; }
    note.append(t("Using your video of {length} ({size}) from \"Your media\".", { length: formatDuration(item.duration_sec), size: formatBytes(item.size) }) + " ");
    const clear = document.createElement("button");
    clear.type = "button";
    clear.className = "secondary";
    clear.textContent = t("Choose another");
    clear.onclick = () => reuse(null);
    note.appendChild(clear);
    note.classList.remove("hidden");
  }

  function useInPost(item, onChosen) {
    const kind = item.kind === "image" ? "photo" : "video";
    const radio = document.querySelector(`input[name="kind"][value="${kind}"]`);
    if (radio && !radio.checked) radio.click();
    if (kind === "video") {
      $("video").value = "";
      reuse(item);
    } else {
      const tick = document.querySelector(`#image-choices input[value="${item.id}"]`);
      if (tick && !tick.checked) tick.click();
    }
    if (onChosen) onChosen(kind);
    $("compose").scrollIntoView({ block: "start" });
    const focus = kind === "video" ? $("video-reused").querySelector("button") : $("image-choices");
    if (focus) focus.focus();
  }

  // "Post of 2 Dec 10:00, TikTok: scheduled" for each post, read from the API.
  async function describePosts(ids) {
    const lines = [];
    for (const id of ids.slice(0, 10)) {
      const got = await json(`/api/v1/posts/${id}`);
      if (!got.ok) { lines.push(t("a post ({id})", { id: id.slice(0, 8) })); continue; }
      const post = got.body;
      const targets = (post.targets || []).map((target) => `${window.CachalotWords.platform(target.platform)}: ${window.CachalotWords.status(target.status)}`).join(", ");
      lines.push(t("the post of {when} ({targets})", { when: when(post.scheduled_at || post.created_at), targets }));
    }
    if (ids.length > 10) lines.push(t("and {n} more", { n: ids.length - 10 }));
    return lines;
  }

  async function remove(item, done) {
    const image = item.kind === "image";
    if (item.needed_by.length) {
      const lines = (await describePosts(item.needed_by)).join("; ");
      done("bad", image
        ? t("This image cannot be deleted yet: {posts} still need it. Cancel those posts or wait until they are published, then delete it.", { posts: lines })
        : t("This video cannot be deleted yet: {posts} still need it. Cancel those posts or wait until they are published, then delete it.", { posts: lines }));
      return;
    }
    // an operator's proposal waiting for the client's answer: approving it queues a post
    // needing this file (the queue answers 409 too)
    if ((item.proposals_waiting || []).length) {
      done("bad", image
        ? t("This image cannot be deleted yet: a proposal from our team that uses it waits for your answer (approving it queues a post with this image).")
        : t("This video cannot be deleted yet: a proposal from our team that uses it waits for your answer (approving it queues a post with this video)."));
      return;
    }
    const lines = await describePosts(item.posts);
    const used = lines.length
      ? t("It was used by {posts}. Those posts keep their history but can no longer be retried.", { posts: lines.join("; ") })
      : t("No post uses it.");
    if (!window.confirm(`${image ? t("Delete this image?") : t("Delete this video?")} ${used}`)) return;
    const res = await json(`/api/v1/media/${item.id}`, { method: "DELETE" });
    if (res.ok && reused && reused.id === item.id) reuse(null);
    const fine = image ? t("Image deleted.") : t("Video deleted.");
    const problem = res.body && (res.body.detail || res.body.title);
    done(res.ok ? "ok" : "bad", res.ok ? fine : problem || t("Could not delete."));
  }

  // Writes the library's rows into `tbody`: picture, when, duration, size, type, posts,
  // and the two actions. `onFlash(kind, text)` tells the result; `onChange()` reloads.
  function renderLibrary(tbody, items, { onFlash, onChange, onChosen }) {
    tbody.textContent = "";
    for (const item of items) {
      const image = item.kind === "image";
      const row = tbody.insertRow();
      row.dataset.media = item.id;
      const cell = (label, text) => {
        const td = row.insertCell();
        td.dataset.label = label;
        if (text !== undefined) td.textContent = text;
        return td;
      };
      const picture = cell(t("Picture"));
      picture.className = "thumb";
      const img = document.createElement("img");
      img.src = `/api/v1/media/${item.id}/thumbnail`;
      img.alt = image
        ? t("image uploaded {when}", { when: when(item.created_at) })
        : t("video uploaded {when}", { when: when(item.created_at) });
      img.width = 64;
      img.loading = "lazy";
      picture.appendChild(img);
      cell(t("Uploaded"), when(item.created_at));
      cell(t("Length"), image ? `${item.width}×${item.height}` : formatDuration(item.duration_sec));
      cell(t("Size"), formatBytes(item.size));
      cell(t("Type"), item.content_type);
      const busy = item.needed_by.length;
      cell(t("Posts"), number(item.posts.length) + (busy ? ` ${t("({n} not finished)", { n: busy })}` : ""));
      const actions = row.insertCell();
      actions.className = "actions";
      const use = document.createElement("button");
      use.type = "button";
      use.className = "secondary";
      use.textContent = t("Use in a new post");
      use.setAttribute("aria-label", image ? t("Use in a new post: this image") : t("Use in a new post: this video"));
      use.onclick = () => useInPost(item, onChosen);
      const del = document.createElement("button");
      del.type = "button";
      del.className = "secondary";
      del.textContent = t("Delete");
      del.setAttribute("aria-label", image ? t("Delete this image") : t("Delete this video"));
      del.onclick = () => remove(item, async (kind, text) => { onFlash(kind, text); await onChange(); });
      actions.append(use, del);
    }
  }

  // web/i18n.js loads this script after the page is parsed (DOMContentLoaded may be gone)
  function wire() {
    const form = $("post-form");
    if (form) form.addEventListener("reset", () => reuse(null));
    const input = $("video");
    if (input) input.addEventListener("change", () => { if (input.files[0]) reuse(null); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();

  window.CachalotUploads = {
    upload,
    renderLibrary,
    reused: () => reused,
    reuse,
    untilAnswered,
    formatDuration,
  };
})();
