"""Pages show invisible and bidi characters as the operator's Telegram does (issue 11, A3).

web/shown.js (used by the dashboard and the operator page for every text
from people and platforms) is run in the real Chromium on the inputs of
libs/common/tests/test_text.py and must give what
``cachalot_common.text.reveal_invisible`` gives, character for character.
"""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path
from typing import Any

from cachalot_common.text import reveal_invisible

SHOWN_JS = Path(__file__).resolve().parents[2] / "web" / "shown.js"
SAMPLES = [
    "abc\u202etxt.exe",
    'access_level = "user\u202e \u2066// Check if admin\u2069 \u2066"',
    "Ada\u061c\u200e\u200f\u202a\u202b\u202c\u202d end",
    "👨\u200d👩\u200d👧 می\u200cخواهم 1️⃣ e\u0301",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "hi" + "".join(chr(0xE0000 + ord(c)) for c in "run me"),
    "\u200dx pay\u00adpal\u200b \ufeffbom \u2060wj \u0600١٢",
    "plain ascii <b>stays</b>",
]


def test_the_pages_show_text_as_the_operators_telegram_does(browser: Any) -> None:
    every_format = "".join(
        f"a {chr(c)}b " for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"
    )
    page = browser.new_page()
    try:
        page.set_content(f"<script>{SHOWN_JS.read_text()}</script>")
        for text in [*SAMPLES, every_format]:
            assert page.evaluate("(t) => window.cachalotShown(t)", text) == reveal_invisible(text)
        assert page.evaluate("() => window.cachalotShown(null)") == ""
    finally:
        page.close()
