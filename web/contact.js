// The public contact form: posts JSON to /api/v1/contact and shows the
// server's field errors (RFC 9457 problem details) next to each field.
"use strict";
(function () {
  const form = document.getElementById("contact-form");
  const result = document.getElementById("result");

  function show(kind, text) {
    result.className = "notice " + kind;
    result.textContent = text;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.querySelectorAll(".field-error").forEach((el) => (el.textContent = ""));
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
        show("ok", "Thank you! We got your message and will get back to you soon.");
      } else if (response.status === 422 && Array.isArray(body.errors)) {
        for (const error of body.errors) {
          const slot = form.querySelector(`.field-error[data-field="${error.field}"]`);
          if (slot) slot.textContent = error.message;
        }
        show("bad", "Please check the highlighted fields.");
      } else if (response.status === 429) {
        const wait = response.headers.get("Retry-After");
        show("bad", `Too many messages from your address. Try again in ${wait || "a few"} seconds.`);
      } else {
        show("bad", body.detail || `Something went wrong (${response.status}). Please try again.`);
      }
    } catch (err) {
      show("bad", "Could not reach the server. Check your connection and try again.");
    } finally {
      button.disabled = false;
    }
  });
})();
