// The public contact form: posts JSON to /api/v1/contact and shows the
// server's field errors (RFC 9457 problem details) next to each field.
"use strict";
(function () {
  const form = document.getElementById("contact-form");
  const result = document.getElementById("result");
  const t = window.I18N.t;

  function show(kind, text) {
    result.className = "notice " + kind;
    result.textContent = text;
  }

  // A field's error in the page's language: the contact service's checks by
  // their pydantic type (services/contact), its own words for anything else.
  const FIELD_WORDS = {
    missing: t("This is required."),
    string_too_short: t("This is required."),
    string_too_long: t("This is too long."),
    string_pattern_mismatch: t("This is not in the expected form."),
    literal_error: t("Choose one of the options."),
    enum: t("Choose one of the options."),
  };
  function fieldMessage(error) {
    if (error.field === "contact" && error.type !== "missing") {
      return t("Write a Telegram username (@name) or a phone number with its country code.");
    }
    if (error.field === "message" && error.type === "value_error") return t("Write a message.");
    const words = FIELD_WORDS[error.type];
    return words || error.message;
  }

  // Lengths are counted as the contact service counts them (web/lengths.js: code points;
  // a name is counted without its outer spaces). Over the limit, the field says so and
  // nothing is sent.
  const limited = Array.from(form.querySelectorAll("[data-max-chars]"));
  const valueOf = (field) => (field.hasAttribute("data-strip") ? field.value.trim() : field.value);
  const charCount = (field) => window.CachalotLengths.count(valueOf(field));
  function overLimit(field) {
    const max = Number(field.dataset.maxChars);
    const n = charCount(field);
    const counter = form.querySelector(`.char-count[data-count-for="${field.name}"]`);
    if (counter) {
      counter.textContent = t("{n} of {max} characters", { n, max });
      counter.classList.toggle("over", n > max);
    }
    const slot = form.querySelector(`.field-error[data-field="${field.name}"]`);
    // the words of web/lengths.js; the slot remembers that they are its, so that a text
    // brought back within the limit clears them (not another error the server gave)
    const words = window.CachalotLengths.over(valueOf(field), max);
    if (words) {
      if (slot) { slot.textContent = words; slot.dataset.length = "1"; }
      field.setAttribute("aria-invalid", "true");
      return true;
    }
    if (slot && slot.dataset.length) { slot.textContent = ""; delete slot.dataset.length; }
    field.removeAttribute("aria-invalid");
    return false;
  }
  limited.forEach((field) => {
    field.addEventListener("input", () => overLimit(field));
    overLimit(field);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.querySelectorAll(".field-error").forEach((el) => (el.textContent = ""));
    if (limited.map(overLimit).some(Boolean)) {
      show("bad", t("Please check the highlighted fields."));
      return;
    }
    const data = Object.fromEntries(new FormData(form).entries());
    if (!data.website) delete data.website;
    const button = document.getElementById("send");
    button.disabled = true;
    try {
      const response = await fetch("/api/v1/contact", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(data),
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 202) {
        form.reset();
        limited.forEach(overLimit);
        show("ok", t("Thank you! We got your message and will get back to you soon."));
      } else if (response.status === 422 && Array.isArray(body.errors)) {
        for (const error of body.errors) {
          const slot = form.querySelector(`.field-error[data-field="${error.field}"]`);
          if (slot) slot.textContent = fieldMessage(error);
        }
        show("bad", t("Please check the highlighted fields."));
      } else if (response.status === 429) {
        const wait = response.headers.get("Retry-After");
        show("bad", wait
          ? t("Too many messages from your address. Try again in {n} seconds.", { n: Number(wait) })
          : t("Too many messages from your address. Try again in a few seconds."));
      } else {
        show("bad", body.detail || t("Something went wrong ({status}). Please try again.", { status: response.status }));
      }
    } catch (err) {
      show("bad", t("Could not reach the server. Check your connection and try again."));
    } finally {
      button.disabled = false;
    }
  });
})();
