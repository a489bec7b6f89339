// The privacy page's figures from the service's settings, never copied into the page:
// how long a file is kept once its posts are finished (GET /api/v1/privacy, the queue's
// CACHALOT_MEDIA_RETENTION_DAYS; null: until the client deletes it).
"use strict";
(function () {
  const t = window.I18N.t;
  const retention = document.getElementById("retention");

  fetch("/api/v1/privacy", { credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
    .then((facts) => {
      const days = facts.media_retention_days;
      retention.dataset.days = days === null ? "" : String(days);
      retention.textContent = days === null
        ? t("Otherwise a file is kept until you delete it.")
        : t("A file all of whose posts have been published, cancelled or failed for {days} days is deleted by itself.",
          { n: days, days: window.I18N.number(days) });
    })
    .catch(() => {
      retention.dataset.days = "?";
      retention.textContent = t("How long a file is kept after its posts are done could not be read just now; please reload the page.");
    });
})();
