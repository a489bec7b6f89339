// Text from a client, the public or a platform, as a page shows it (issue 11:
// "Trojan Source", CVE-2021-42574). Bidirectional controls (UAX #9) could reorder
// what the reader sees and other invisible format characters draw nothing, so
// each is shown as its code, "⟨U+202E⟩". Kept inside their character (grapheme
// cluster, UAX #29): ZWJ/ZWNJ after a base (emoji sequences, Persian), tags in a
// flag tag sequence, format characters that draw a sign. The same rules as
// cachalot_common.text.reveal_invisible, which the operator's Telegram gets.
(function () {
  "use strict";
  const BIDI = new Set(Array.from("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"));
  const VISIBLE_FORMAT = new Set(Array.from(
    "\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\u{110bd}\u{110cd}"));
  const FORMAT = /^\p{Cf}$/u;
  const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

  const code = (c) => "⟨U+" + c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0") + "⟩";
  const isTag = (c) => c.codePointAt(0) >= 0xe0020 && c.codePointAt(0) <= 0xe007f;

  function kept(c, index, flag) {
    if (BIDI.has(c)) return false;
    if (!FORMAT.test(c) || VISIBLE_FORMAT.has(c)) return true;
    if (index === 0) return false;
    return c === "\u200d" || c === "\u200c" || (flag && isTag(c));
  }

  window.cachalotShown = function shown(text) {
    if (text == null) return "";
    const value = String(text);
    if (!/[^\x00-\x7f]/.test(value)) return value;
    let out = "";
    for (const { segment } of segmenter.segment(value)) {
      const chars = Array.from(segment);
      const flag = chars[0] === "\u{1f3f4}" && chars[chars.length - 1] === "\u{e007f}";
      chars.forEach((c, i) => { out += kept(c, i, flag) ? c : code(c); });
    }
    return out;
  };
})();
