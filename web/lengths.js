// Text lengths counted as the services count them: in Unicode code points, which is what
// pydantic's max_length counts on a Python str (every free-text field of the API: the
// contact form, an article's title, an operator's note, a policy version's fields, a
// request for changes). Never with the browser's maxlength, which counts UTF-16 units and
// cuts a pasted text silently, even inside a character (issue 11: 571 family emoji are
// 3,997 code points and 6,281 units). A page checks with `over` before it sends anything
// and says the words at the field; the server's own check stays the rule.
// Platform texts (captions, titles) are counted by web/composer.js as each platform counts.
(function () {
  "use strict";
  const t = window.I18N.t;

  // The length of `value` in code points.
  function count(value) {
    return Array.from(String(value || "")).length;
  }

  // The words for a field whose value is over `max` code points; "" when it is within.
  function over(value, max) {
    const n = count(value);
    return n > max ? t("This is {n} characters; at most {max} are taken.", { n, max }) : "";
  }

  window.CachalotLengths = { count, over };
})();
