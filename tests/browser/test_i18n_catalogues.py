"""The dashboard's and the contact page's words: one catalogue per language (issue 12, item 7).

Read from web/ without a browser: both catalogues hold the same keys, every key a
page looks up is in them, a Russian message keeps its English one's placeholders
and has every Russian plural form, and no English a person would read is written
in the pages outside the catalogue. The reading:

* :func:`js_strings` — every string literal of a script, with whether it is the
  first argument of ``t(``: a small tokenizer (comments, quotes, template
  literals with nested ``${…}``, regular-expression literals after an operator).
* :func:`html_texts` — every text node and user-visible attribute of a page,
  with whether web/i18n.js translates it (``data-i18n``, ``data-i18n-attr``) or
  it is marked as not to be (``data-no-i18n``: a language's own name).
* :func:`used_keys` — the catalogue keys the pages need.
* :func:`english_left` — user-visible English that bypasses the catalogue.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from cachalot_common import platforms

WEB = Path(__file__).resolve().parents[2] / "web"
CATALOGUES = WEB / "i18n"
# Every page a person reads: the client's, the policy and the operator's own.
PAGES = ("index.html", "contact.html", "privacy.html", "operator.html", "api-docs.html")
SCRIPTS = (
    "i18n.js",
    "app.js",
    "composer.js",
    "choices.js",
    "schedule.js",
    "uploads.js",
    "live.js",
    "shown.js",
    "newest.js",
    "contact.js",
    "lengths.js",
    "proposals.js",
    "trail.js",
    "privacy.js",
    "operator.js",
    "words.js",
    "when.js",
    "api-docs.js",
)
# Words a person sees in both languages as they are: the product's and the platforms' names.
NAMES = {"CACHALOT", *(platforms.label_of(name) for name in platforms.names())}
VISIBLE_ATTRIBUTES = ("placeholder", "aria-label", "title", "alt")
# Two words of Latin letters in a row: how English text looks (a class list such as
# "muted hint" looks the same, so literals that are only markup are listed below).
ENGLISH = re.compile(r"[A-Za-z]{2,}[,.;:!?'’]? +[A-Za-z]{2,}")
WORD = re.compile(r"[A-Z][a-z]+[.!?]?")  # one capitalised word: a button's or a heading's
MARKUP = re.compile(
    r"^(?:[a-z0-9{}-]+(?: [a-z0-9{}-]+)*"  # class lists: "button secondary", "card card-{}"
    r"|[#.\[][^ ]*(?: [#.>\[a-z][^ ]*)*"  # selectors: "#post-form .field-error"
    r"|\([a-z-]+: ?\d+px\)"  # media queries
    r"|(?:prev|next|today|title|dayGridMonth|timeGridWeek|listWeek)(?:[, ]\w+)*"  # calendar toolbar
    r")$"
)


@dataclass(frozen=True)
class Literal:
    text: str  # the static text (a template's ${…} parts as "{}")
    translated: bool  # the first argument of t(…)
    line: int


def js_strings(source: str) -> list[Literal]:
    """String literals of ``source``; ``translated`` when it is ``t("…")``'s first argument."""
    out: list[Literal] = []
    i, n, line = 0, len(source), 1
    last_token = ""  # the last significant character before a literal or a slash
    stack: list[int] = []  # brace depth of each open ${ … } inside a template

    def translated_at(start: int) -> bool:
        before = source[:start].rstrip()
        return bool(re.search(r"(?<![\w.$])t\($", before))

    def read_quoted(start: int, quote: str) -> int:
        nonlocal line
        j = start + 1
        text = []
        while j < n and source[j] != quote:
            if source[j] == "\\":
                text.append(source[j : j + 2])
                j += 2
                continue
            if source[j] == "\n":
                line += 1
            text.append(source[j])
            j += 1
        out.append(Literal("".join(text), translated_at(start), line))
        return j + 1

    depth = 0
    template_parts: list[list[str]] = []
    template_start: list[int] = []

    def read_template(start: int) -> int:
        """From just after a backtick (or a closing ``}``) to the end or the next ``${``."""
        nonlocal line
        j = start
        while j < n:
            c = source[j]
            if c == "\\":
                template_parts[-1].append(source[j : j + 2])
                j += 2
                continue
            if c == "`":
                text = "".join(template_parts.pop())
                out.append(Literal(text, translated_at(template_start.pop()), line))
                return j + 1
            if c == "$" and j + 1 < n and source[j + 1] == "{":
                template_parts[-1].append("{}")
                stack.append(depth)
                return j + 2
            if c == "\n":
                line += 1
            template_parts[-1].append(c)
            j += 1
        return j

    while i < n:
        c = source[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c in " \t\r":
            i += 1
            continue
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
            continue
        if source.startswith("/*", i):
            end = source.find("*/", i + 2)
            line += source[i:end].count("\n")
            i = n if end < 0 else end + 2
            continue
        if c in "'\"":
            i = read_quoted(i, c)
            last_token = "a"
            continue
        if c == "`":
            template_parts.append([])
            template_start.append(i)
            i = read_template(i + 1)
            last_token = "a"
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            if stack and stack[-1] == depth:
                stack.pop()
                i = read_template(i + 1)
                last_token = "a"
                continue
            depth -= 1
        elif c == "/" and (last_token in "(,=:[!&|?{};+-*%<>~^" or last_token == ""):
            # a regular expression literal: skip it (classes may hold a slash)
            j, in_class = i + 1, False
            while j < n:
                if source[j] == "\\":
                    j += 2
                    continue
                if source[j] == "[":
                    in_class = True
                elif source[j] == "]":
                    in_class = False
                elif source[j] == "/" and not in_class:
                    break
                j += 1
            i = j + 1
            while i < n and source[i].isalpha():
                i += 1
            last_token = "a"
            continue
        last_token = "a" if (c.isalnum() or c in "_$)]") else c
        i += 1
    return out


@dataclass(frozen=True)
class Text:
    text: str
    translated: bool  # web/i18n.js translates it
    where: str  # a tag, or tag[attribute]


class _Page(HTMLParser):
    VOID = {"meta", "link", "input", "br", "img", "hr", "source", "col", "area", "base", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, bool, bool]] = []  # tag, data-i18n, data-no-i18n
        self.texts: list[Text] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        listed = (names.get("data-i18n-attr") or "").split()
        for attribute in VISIBLE_ATTRIBUTES:
            value = names.get(attribute)
            if value and re.search("[A-Za-z]", value):
                self.texts.append(Text(value, attribute in listed, f"{tag}[{attribute}]"))
        if tag not in self.VOID:
            self.open.append((tag, "data-i18n" in names, "data-no-i18n" in names))

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if not text or not re.search("[A-Za-zА-Яа-я]", text):
            return
        if any(tag in ("script", "style") for tag, _, _ in self.open):
            return
        marked = any(on for _, on, _ in self.open)
        skipped = any(off for _, _, off in self.open)
        where = self.open[-1][0] if self.open else ""
        self.texts.append(Text(text, marked or skipped or text in NAMES, where))


def html_texts(page: str) -> list[Text]:
    parser = _Page()
    parser.feed((WEB / page).read_text(encoding="utf-8"))
    return parser.texts


def _element_keys(page: str) -> set[str]:
    """The keys of ``data-i18n`` elements: each one's whole text, collapsed."""

    class Keys(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.stack: list[tuple[str, list[str] | None]] = []
            self.keys: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            names = dict(attrs)
            for attribute in (names.get("data-i18n-attr") or "").split():
                self.keys.add(" ".join((names.get(attribute) or "").split()))
            if tag not in _Page.VOID:
                self.stack.append((tag, [] if "data-i18n" in names else None))

        def handle_endtag(self, tag: str) -> None:
            while self.stack:
                name, collected = self.stack.pop()
                if collected is not None:
                    self.keys.add(" ".join("".join(collected).split()))
                if name == tag:
                    break

        def handle_data(self, data: str) -> None:
            for _, collected in self.stack:
                if collected is not None:
                    collected.append(data)

    parser = Keys()
    parser.feed((WEB / page).read_text(encoding="utf-8"))
    return parser.keys


def used_keys() -> set[str]:
    """Every key the pages look up: marked elements and attributes, and ``t("…")`` literals."""
    keys: set[str] = set()
    for page in PAGES:
        keys |= _element_keys(page)
    for script in SCRIPTS:
        for literal in js_strings((WEB / script).read_text(encoding="utf-8")):
            if literal.translated:
                keys.add(json.loads(f'"{literal.text}"') if "\\" in literal.text else literal.text)
    return keys


def english_in_script(source: str) -> list[tuple[int, str]]:
    """Literals of ``source`` a person would read as English, not passed to ``t(``."""
    left: list[tuple[int, str]] = []
    for literal in js_strings(source):
        text = literal.text.strip()
        word = WORD.fullmatch(text) and text not in NAMES  # "Retry", "Saved."
        if literal.translated or not (ENGLISH.search(text) or word) or MARKUP.match(text):
            continue
        left.append((literal.line, text))
    return left


def english_left() -> list[str]:
    """User-visible English that does not go through the catalogue, as "file:line: text"."""
    left: list[str] = []
    for page in PAGES:
        for item in html_texts(page):
            if not item.translated:
                left.append(f"{page} <{item.where}>: {item.text}")
    for script in SCRIPTS:
        for line, text in english_in_script((WEB / script).read_text(encoding="utf-8")):
            left.append(f"{script}:{line}: {text}")
    return left


def catalogue(lang: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((CATALOGUES / f"{lang}.json").read_text("utf-8"))
    return loaded


# Looked up by value: t(target.status) (cachalot_common.events.TargetStatus) and
# t(account.status) (auth: ok, reauth_required, revoked).
def worded(map_name: str) -> set[str]:
    """The keys of one map of web/words.js (``const STATUS = { scheduled: () => t(…), … }``)."""
    source = (WEB / "words.js").read_text(encoding="utf-8")
    body = re.search(rf"const {map_name} = {{\n(.*?)\n  }};", source, re.S)
    assert body, map_name
    return set(re.findall(r"^ {4}(\w+): ", body.group(1), re.M))


def schema_words() -> set[str]:
    """The fields' titles, descriptions and choices the dashboard builds from the queue's
    registry (GET /api/v1/posts/platforms: each platform's JSON Schema), looked up by value."""
    from cachalot_common import platforms

    words: set[str] = set()
    for name in platforms.names():
        fields = platforms.get(name).fields
        if fields is None:
            continue
        for prop in fields.model_json_schema().get("properties", {}).values():
            words |= {prop[key] for key in ("title", "description") if prop.get(key)}
            words |= set((prop.get("x-choices") or {}).values() or prop.get("enum") or [])
    return words


# shown in words of the composer's own (composer.js), never as the registry's values
REPLACED = {
    "PUBLIC_TO_EVERYONE",
    "MUTUAL_FOLLOW_FRIENDS",
    "FOLLOWER_OF_CREATOR",
    "SELF_ONLY",
    "public",
    "unlisted",
    "private",
}
RUSSIAN_PLURALS = {"one", "few", "many", "other"}  # CLDR's forms for ru (Intl.PluralRules)
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def forms(value: object) -> list[str]:
    return list(value.values()) if isinstance(value, dict) else [str(value)]


def test_the_english_and_russian_catalogues_have_the_same_keys() -> None:
    en, ru = catalogue("en"), catalogue("ru")
    assert sorted(set(en) - set(ru)) == []
    assert sorted(set(ru) - set(en)) == []


def test_every_word_the_pages_look_up_is_in_both_catalogues() -> None:
    wanted = used_keys() | (schema_words() - REPLACED)
    for lang in ("en", "ru"):
        assert sorted(wanted - set(catalogue(lang))) == [], lang
    # and nothing is kept that no page asks for
    assert sorted(set(catalogue("en")) - wanted) == []


def test_english_messages_are_their_own_keys_and_russian_ones_are_russian() -> None:
    for key, value in catalogue("en").items():
        if isinstance(value, dict):  # a count: "1 hashtag", "2 hashtags" (fresh12k)
            assert set(value) == {"one", "other"}, key
            assert value["other"] == key
            assert PLACEHOLDER.findall(value["one"]) == PLACEHOLDER.findall(key), key
        else:
            assert value == key
    for key, value in catalogue("ru").items():
        for text in forms(value):
            assert text.strip(), key
            if re.search("[A-Za-z]{3,}", PLACEHOLDER.sub("", key)):
                assert re.search("[А-Яа-яЁё]", text), (key, text)  # said in Russian


def test_each_russian_message_keeps_the_placeholders_and_has_every_plural_form() -> None:
    for key, value in catalogue("ru").items():
        expected = set(PLACEHOLDER.findall(key)) - {"n"}
        if isinstance(value, dict):
            assert set(value) == RUSSIAN_PLURALS, key
        for text in forms(value):
            assert set(PLACEHOLDER.findall(text)) - {"n"} == expected, (key, text)


def test_no_english_a_person_reads_is_hard_coded_in_the_pages() -> None:
    assert english_left() == []


def test_the_scan_finds_english_written_past_the_catalogue() -> None:
    source = """
      // a comment says anything it likes
      el.textContent = "Could not save the post.";
      ok.textContent = t("Could not save the post.");
      row.className = "muted hint";
      retry.textContent = "Retry";
      hint.textContent = `Uploaded ${name} just now`;
      const re = /"not a string" at all/g;
      label.append(t("Seen by: {who}", { who: words[x] || t("not chosen yet") }));
    """
    assert [text for _, text in english_in_script(source)] == [
        "Could not save the post.",
        "Retry",
        "Uploaded {} just now",
    ]
    found = [(s.text, s.translated) for s in js_strings(source)]
    assert ("Could not save the post.", False) in found
    assert ("Could not save the post.", True) in found
    assert ("Uploaded {} just now", False) in found
    assert ("Retry", False) in found
    assert ("not chosen yet", True) in found
    assert all("not a string" not in text for text, _ in found)


def test_every_status_and_shared_error_code_is_worded_in_the_pages_language() -> None:
    """Statuses and codes come from the API; the pages word each through the catalogues
    (web/words.js), whatever service says it: a target's and a proposal's states, an
    account's, the publishers' shared outcome codes, each publisher's own (TikTok's,
    Instagram's with its ``graph_<code>`` family, VK's, Telegram's) and the queue's."""
    from typing import get_args

    from cachalot_common.events import TargetStatus
    from cachalot_publisher_instagram.publisher import GRAPH_REFUSED
    from cachalot_publisher_instagram.publisher import OWN_CODES as INSTAGRAM
    from cachalot_publisher_telegram.publisher import OWN_CODES as TELEGRAM
    from cachalot_publisher_tiktok.reasons import PERMANENT as TIKTOK
    from cachalot_publisher_vk.publisher import OWN_CODES as VK
    from cachalot_publishing import outcome
    from cachalot_queue import states
    from cachalot_queue.deliveries import ProposalStatus
    from cachalot_queue.probe import UnusableCode

    accounts = {"ok", "reauth_required", states.NEEDS_CHANNEL, "revoked"}
    statuses = {*get_args(TargetStatus), *get_args(ProposalStatus), *accounts}
    assert sorted(statuses - worded("STATUS")) == []
    shared = {
        value
        for name, value in vars(outcome).items()
        if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z_]+", value)
    }
    lost = {f"account_{status}" for status in ("revoked", "deleted", "reassigned", "unknown")}
    queue = {states.CONFIRMED_BY_CLIENT, states.CONSENT_REQUIRED, *states.CHANNEL_CODES, *lost}
    # every code the queue writes on a target itself (``code="cancelled"``): fresh10e found
    # "Cancelled by the client." in English on the Russian page, its code worded nowhere
    queue_src = WEB.parent / "services" / "queue" / "src"
    queue |= {
        code
        for path in queue_src.rglob("*.py")
        for code in re.findall(r'\bcode="([a-z_]+)"', path.read_text(encoding="utf-8"))
    }
    platforms = set(TIKTOK) | INSTAGRAM | VK | TELEGRAM
    assert sorted((shared | queue | platforms) - worded("CODES")) == []
    assert GRAPH_REFUSED in worded("FAMILIES")
    # an uploaded file the queue cannot use: the error entry's type is media_<code>
    unusable = {f"media_{code}" for code in get_args(UnusableCode)}
    assert sorted(unusable - worded("BY_TYPE")) == []


def test_every_field_of_every_platform_is_labelled_in_words() -> None:
    """Each field of the registry has a title a person reads (not pydantic's one made from
    its name, "Owner Id"), the kinds it is marked for are ones its platform takes, and each
    value of a choice is in words (``x-choices``), unless the composer words it (REPLACED)."""
    from cachalot_common import platforms

    for name in platforms.names():
        spec = platforms.get(name)
        if spec.fields is None:
            continue
        for field, info in spec.fields.model_fields.items():
            assert info.title, (name, field)
        for field, prop in spec.fields.model_json_schema()["properties"].items():
            assert set(prop.get("x-kinds", [])) <= set(spec.kinds), (name, field)
            raw = set(prop.get("enum") or []) - REPLACED
            assert raw <= set(prop.get("x-choices") or {}), (name, field, raw)


def test_every_refusal_code_of_the_registry_is_worded_in_both_languages() -> None:
    """A platform's limit refused reaches a Russian page in Russian (fresh10b: the registry's
    refusals were all ``value_error``, so the page showed the server's English): every code
    of :data:`cachalot_common.refusals.REFUSALS` (each ``FieldError`` and validator refusal
    of the registry must carry one, :func:`cachalot_common.refusals.check`) is worded by
    web/words.js, whose words the other tests here find in both catalogues."""
    from cachalot_common.refusals import REFUSALS

    assert sorted(set(REFUSALS) - worded("REFUSALS")) == []
    assert sorted(worded("REFUSALS") - set(REFUSALS)) == []  # no words for a code never sent


# a refusal worded without its numbers, and why: the field it stands at names what is off
WORDED_WITHOUT_NUMBERS = {"interaction_off"}


def test_every_refusal_that_carries_numbers_says_them_in_the_pages_language() -> None:
    """A Russian page said "the picture is too large: make it smaller" where the English one
    said how large it may be (fresh10b): the words of a code whose error entry carries
    numbers or choices (:data:`cachalot_common.refusals.REFUSALS`) use at least one of them."""
    from cachalot_common.refusals import REFUSALS

    source = (WEB / "words.js").read_text(encoding="utf-8")
    body = re.search(r"const REFUSALS = \{\n(.*?)\n  \};", source, re.S)
    assert body
    words = dict(re.findall(r"^ {4}(\w+): (.*)$", body.group(1), re.M))
    silent = [
        code
        for code, keys in REFUSALS.items()
        if keys
        and code not in WORDED_WITHOUT_NUMBERS
        and not any(f"e.{key}" in words[code] for key in keys)
    ]
    assert silent == []


def test_no_russian_message_keeps_english_units() -> None:
    """fresh10b: the Russian help of TikTok's caption said "UTF-16 code units" in English."""
    kept = [
        text
        for value in catalogue("ru").values()
        for text in forms(value)
        if re.search(r"\b(?:code units?|units?|characters?|bytes?)\b", text)
    ]
    assert kept == []


def test_platform_names_are_written_once_in_words_js_as_the_registry_labels_them() -> None:
    """Issue 12 LOW: four scripts each kept their own platform → name map; a sixth
    platform would have been named in some pages only. web/words.js holds the one map
    (``CachalotWords.platform``, ``.platforms``), the registry's labels in its order."""
    mapping = re.compile(r"""\b(\w+)\s*:\s*"([^"]+)"|\[\s*"(\w+)"\s*,\s*"([^"]+)"\s*\]""")
    labels = {name: platforms.label_of(name) for name in platforms.names()}
    elsewhere = {
        script.name: sorted({key or pair_key for key, _, pair_key, _ in found})
        for script in sorted(WEB.glob("*.js"))
        if script.name != "words.js"
        and (
            found := [
                m.groups()
                for m in mapping.finditer(script.read_text(encoding="utf-8"))
                if (m.group(1) or m.group(3)) in labels
                and (m.group(2) or m.group(4)) == labels[m.group(1) or m.group(3)]
            ]
        )
    }
    assert elsewhere == {}
    body = re.search(r"const PLATFORMS = \{([^}]*)\}", (WEB / "words.js").read_text("utf-8"))
    assert body is not None
    assert dict(re.findall(r'(\w+): "([^"]+)"', body.group(1))) == labels
    assert list(re.findall(r'(\w+): "', body.group(1))) == list(labels)


def test_the_schedule_words_refusals_through_words_js_never_the_servers_message() -> None:
    """web12g (fresh try): schedule.js showed the server's English ``message`` of an error
    (joined after "This time" on a Russian page); refusals are worded by their type in
    web/words.js (``CachalotWords.problem``)."""
    source = (WEB / "schedule.js").read_text(encoding="utf-8")
    assert re.findall(r"\.message\b", source) == []
    assert "CachalotWords.problem(" in source
