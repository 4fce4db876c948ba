"""Text written by outsiders: hidden characters out, hiding markup defanged, marked as data.

Ticket bodies and chat messages are written by customers and strangers and end up in the model's
context. `sanitize` removes what a person reading the ticket cannot see but a model can:

- hidden characters: controls, format characters (zero-width, bidirectional controls, Unicode tag
  characters), private-use and unassigned code points, Hangul fillers, runs of variation selectors.
  A zero-width joiner stays only between emoji (and ZWJ/ZWNJ between letters of scripts that use
  them for spelling, such as Persian and Hindi); a variation selector stays only as the one
  selector after an emoji or CJK ideograph. Subdivision flags (a black flag plus tag characters)
  lose their tags: tags are the favourite channel for smuggling invisible instructions. The same
  characters written as HTML entities (`&#8203;`, `&amp;#x200B;`, `&zwj;`) go too, decoded
  through up to `ENTITY_DEPTH` layers;
- markup that hides text or exfiltrates: HTML comments, elements hidden by a `hidden` attribute or
  an inline style (`display:none`, `visibility:hidden`, `font-size:0`, `opacity:0`), `<script>`,
  `<style>`, `<iframe>` and friends, Markdown and HTML images (a reply that renders an image fetches
  its URL, and the query string can carry what the model was told) become `(image: alt, from host)`,
  and code-fence info strings that are not a language name (renderers hide them);
- markup that impersonates the conversation: chat-template tokens (`<|im_start|>`, `[INST]`,
  `<<SYS>>`, `<start_of_turn>`...), role and delimiter tags (`<system>`, `</assistant>`,
  `<tool_result>`...) and any `untrusted-...` envelope tag, also written with `&lt;` or full-width
  brackets.

Removed markup leaves a visible `[removed: ...]` marker, so the reader knows something was there
and two pieces never join into new markup; hidden characters and a fence's instruction-like info
string simply go, as a renderer would never have shown them. Hidden markup inside fenced code
blocks is left alone because a renderer shows it as written. Benign text (code, CJK, Arabic, emoji sequences, tables)
passes unchanged. `sanitize` is idempotent.

`wrap(text, nonce)` puts sanitized text in an envelope `<untrusted-NONCE>...</untrusted-NONCE>`
whose nonce comes from `new_nonce()` per call; the text can neither close nor forge it because
every envelope tag inside is neutralized and the nonce itself is struck from the text.
`clip` shortens at a line or sentence boundary with a visible `[… N more characters]` marker.
`lockdown` withholds customer-written text and keeps the record's metadata.
"""

from __future__ import annotations

import html.entities
import re
import secrets
import unicodedata
from collections.abc import Collection, Iterable
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

ENTITY_DEPTH: Final = 4
SOURCES: Final = frozenset({"support", "chat", "crm", "tracker", "knowledge"})
# Fields that hold prose somebody wrote, as opposed to ids, statuses, names and dates.
FREE_TEXT_FIELDS: Final = frozenset({"subject", "body", "text", "title", "snippet", "description"})

# Control, format (zero-width, bidi overrides, tag characters), private-use, unassigned, surrogates.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs"})
# Letters that render as nothing: Hangul fillers, the combining grapheme joiner, Khmer inherent vowels.
_INVISIBLE_LETTERS = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0, 0x034F, 0x17B4, 0x17B5, 0x2800})
_ZWJ, _ZWNJ = 0x200D, 0x200C
_NON_ASCII_RUN = re.compile(r"[^\x20-\x7e\n\t]+")


def _is_emoji(cp: int) -> bool:
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or 0x2190 <= cp <= 0x21FF
        or 0x2300 <= cp <= 0x23FF
        or 0x2B00 <= cp <= 0x2BFF
        or cp in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x3030, 0x303D, 0x3297, 0x3299)
    )


def _is_han(cp: int) -> bool:
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x3FFFF or 0xF900 <= cp <= 0xFAFF


def _joins_letters(cp: int) -> bool:
    """Scripts whose spelling uses ZWJ/ZWNJ: Arabic (Persian, Urdu) and the Indic scripts."""
    return 0x0600 <= cp <= 0x06FF or 0x0750 <= cp <= 0x077F or 0x08A0 <= cp <= 0x08FF or 0x0900 <= cp <= 0x0DFF


def _is_variation_selector(cp: int) -> bool:
    return 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF


def _hidden(cp: int) -> bool:
    """Hidden wherever it stands (the context-dependent joiners and selectors count as hidden)."""
    if cp in (0x0A, 0x09):
        return False
    return (
        cp in _INVISIBLE_LETTERS
        or _is_variation_selector(cp)
        or cp > 0x10FFFF
        or unicodedata.category(chr(cp)) in _HIDDEN_CATEGORIES
    )


# Printable characters that still need a look: selectors, joiners' neighbours, invisible letters.
_NEEDS_A_LOOK = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5\u2800]")


def _strip_run(run: str, before: str, after: str) -> str:
    """`run` (non-ASCII characters between `before` and `after`) without its hidden characters."""
    if run.isprintable() and not _NEEDS_A_LOOK.search(run):
        return run  # the common case (CJK, accents, most emoji) in one C-level pass
    out: list[str] = []
    for i, ch in enumerate(run):
        cp = ord(ch)
        prev = ord(out[-1]) if out else (ord(before) if before else 0)
        if cp in (_ZWJ, _ZWNJ):
            nxt = run[i + 1] if i + 1 < len(run) else after
            nxt_cp = ord(nxt) if nxt else 0
            emoji_link = cp == _ZWJ and (_is_emoji(prev) or prev == 0xFE0F) and _is_emoji(nxt_cp)
            if emoji_link or (_joins_letters(prev) and _joins_letters(nxt_cp)):
                out.append(ch)
            continue
        if _is_variation_selector(cp):
            # One selector after the kind of character it applies to; a run of them carries data.
            presentation = cp in (0xFE0E, 0xFE0F) and (_is_emoji(prev) or _is_keycap_base(prev))
            ideographic = cp not in (0xFE0E, 0xFE0F) and _is_han(prev)
            if presentation or ideographic:
                out.append(ch)
            continue
        if cp in (0x2028, 0x2029):  # line and paragraph separators: a plain line break
            out.append("\n")
            continue
        if not _hidden(cp):
            out.append(ch)
    return "".join(out)


def _is_keycap_base(cp: int) -> bool:
    return cp in (0x23, 0x2A) or 0x30 <= cp <= 0x39


def _strip_hidden(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        start, end = m.span()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        return _strip_run(m.group(), before, after)

    return _NON_ASCII_RUN.sub(one, text)


_ENTITY = re.compile(r"&(?:amp;){0,8}(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,7}|[A-Za-z][A-Za-z0-9]{1,31});")
_HIDDEN_ENTITY_MARKER = "[removed: hidden character]"


def _entity_is_hidden(m: re.Match[str]) -> bool:
    name = m.group(1)
    if name.startswith(("#x", "#X")):
        cp = int(name[2:], 16)
    elif name.startswith("#"):
        cp = int(name[1:])
    else:
        decoded = html.entities.html5.get(name + ";")
        if decoded is None or len(decoded) != 1:
            return False
        cp = ord(decoded)
    return cp == 0 or 0xD800 <= cp <= 0xDFFF or _hidden(cp)


def _strip_hidden_entities(text: str) -> str:
    """Entities that decode to hidden characters, through `&amp;` layers, to a bounded fixed point."""
    for _ in range(ENTITY_DEPTH):
        stripped = _ENTITY.sub(lambda m: "" if _entity_is_hidden(m) else m.group(), text)
        if stripped == text:
            return text
        text = stripped
    # Still changing: someone nested removals deeper than any real text does. A visible marker
    # instead of nothing cannot join two halves into a new entity, so this is the last round.
    return _ENTITY.sub(lambda m: _HIDDEN_ENTITY_MARKER if _entity_is_hidden(m) else m.group(), text)


# --- markup --------------------------------------------------------------------------------------

_LT = r"(?:<|\uff1c|\ufe64|&lt;|&#0*60;|&#[xX]0*3[cC];)"  # also full-width and small forms
_GT = r"(?:>|\uff1e|\ufe65|&gt;|&#0*62;|&#[xX]0*3[eE];)"
_CHAT_TOKEN = re.compile(
    rf"{_LT}[|\uff5c][^|\uff5c<>\[\]\n]{{1,60}}[|\uff5c]{_GT}"  # <|im_start|>, <|eot_id|>, DeepSeek's full-width bars
    rf"|\[/?(?:INST|SYSTEM_PROMPT|AVAILABLE_TOOLS|TOOL_CALLS|TOOL_RESULTS)\]"  # Llama 2, Mistral
    rf"|{_LT}{_LT}/?SYS{_GT}{_GT}"
    rf"|{_LT}/?(?:start_of_turn|end_of_turn|bos|eos|eot|im_start|im_end|endoftext){_GT}",
    re.IGNORECASE,
)
_ROLE_NAMES = (
    r"system|assistant|human|developer|instructions?|system[_-]?prompt|tool[_-]?calls?|tool[_-]?results?"
    r"|tool[_-]?response|function[_-]?calls?|function[_-]?results?|untrusted[\w-]*|trusted[\w-]*"
)
_ROLE_TAG = re.compile(rf"{_LT}\s*/?\s*(?:{_ROLE_NAMES})(?![\w-])[^<>\uff1c\uff1e\n]{{0,200}}?/?{_GT}", re.IGNORECASE)
# An envelope tag cut short (`<untrusted-` with no `>`) is still no text's business.
_ENVELOPE_PREFIX = re.compile(rf"{_LT}\s*/?\s*untrusted", re.IGNORECASE)
_CHAT_MARKER = "[removed: chat-template token]"
_ROLE_MARKER = "[removed: role tag]"
_COMMENT_MARKER = "[removed: HTML comment]"
_HIDDEN_HTML_MARKER = "[removed: hidden HTML]"
_ACTIVE_HTML_MARKER = "[removed: active HTML]"
_ENVELOPE_MARKER = "[removed: envelope tag]"

_OPEN_TAG = re.compile(r"<([A-Za-z][A-Za-z0-9]{0,15})((?:\s[^<>]{0,2000})?)>")
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
_HIDDEN_ATTRIBUTE = re.compile(r"(?:^|\s)hidden(?:\s|=|/?$)", re.IGNORECASE)  # read with values blanked
_HIDING_VALUE = re.compile(
    r"(?<![\w-])type\s*=\s*[\"']?hidden\b"
    r"|(?<![\w-])style\s*=\s*(?:\"[^\"]*|'[^']*|[^\s>]*)"
    r"(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:\.0*)?(?![.\d])"
    r"|opacity\s*:\s*0(?:\.0*)?(?![.\d])|(?:max-)?height\s*:\s*0(?:px)?(?![.\d]))",
    re.IGNORECASE,
)


def _hides(attrs: str) -> bool:
    """The attributes of a tag hide its element (`title="not hidden"` does not)."""
    return bool(_HIDING_VALUE.search(attrs) or _HIDDEN_ATTRIBUTE.search(_QUOTED.sub('""', attrs)))


_ACTIVE_TAGS = frozenset({"script", "style", "iframe", "object", "embed", "template", "noscript", "frame", "svg"})
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)
_HTML_IMG_ALT = re.compile(r"\balt\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.IGNORECASE)
_HTML_IMG_SRC = re.compile(r"\bsrc\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.IGNORECASE)
_BRACKETED = r"(?:[^\[\]\n]|\[[^\[\]\n]{0,200}\]){0,500}"
_MD_IMAGE = re.compile(
    rf"!\[({_BRACKETED})\]"
    r"(?:\(\s*(<[^<>\n]{0,2000}>|[^\s()]{0,2000}(?:\([^\s()]{0,200}\)[^\s()]{0,2000})?)"
    r"(?:\s+(?:\"[^\"\n]{0,200}\"|'[^'\n]{0,200}'|\([^()\n]{0,200}\)))?\s*\)"
    rf"|\[({_BRACKETED})\])"
)
_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)")
_LANGUAGE_INFO = re.compile(
    r"[\w+#.-]{1,32}(?:[ \t]+[\w-]{1,32}=(?:\"[^\"\n]{0,64}\"|[^\s\"]{1,64})){0,4}|\{[^{}\n]{0,64}\}"
)
_INSTRUCTION_WORDS = frozenset(
    {"system", "assistant", "user", "human", "developer", "instruction", "instructions", "prompt", "ignore", "admin"}
)


def _image_text(alt: str, url: str | None) -> str:
    alt = " ".join(re.sub(r"[\[\]()]", " ", alt).split()) or "no description"
    host = None
    if url:
        try:
            host = urlsplit(url.strip("<> ")).hostname
        except ValueError:
            host = None
    return f"(image: {alt}, from {host})" if host else f"(image: {alt}, not loaded)"


def _md_image(m: re.Match[str]) -> str:
    return _image_text(m.group(1), m.group(2))


def _remove_comments(text: str) -> str:
    # A loop over `find` rather than a lazy regex: an unclosed `<!--` hides the rest (as in a
    # browser) and many of them cost one scan, not one each.
    out: list[str] = []
    position = 0
    while (start := text.find("<!--", position)) >= 0:
        out.append(text[position:start])
        out.append(_COMMENT_MARKER)
        end = text.find("-->", start + 4)
        if text.startswith("<!-->", start):
            end = start + 2
        position = len(text) if end < 0 else end + 3
    out.append(text[position:])
    return "".join(out)


def _remove_hidden_elements(text: str) -> str:
    out: list[str] = []
    position = 0
    for m in _OPEN_TAG.finditer(text):
        if m.start() < position:
            continue
        tag, attrs = m.group(1).lower(), m.group(2)
        if tag == "img":
            alt = _HTML_IMG_ALT.search(attrs)
            src = _HTML_IMG_SRC.search(attrs)
            alt_text = next((g for g in alt.groups() if g is not None), "") if alt else ""
            src_text = next((g for g in src.groups() if g is not None), None) if src else None
            out.append(text[position : m.start()])
            out.append(_HIDDEN_HTML_MARKER if _hides(attrs) else _image_text(alt_text, src_text))
            position = m.end()
            continue
        if tag not in _ACTIVE_TAGS and not _hides(attrs):
            continue
        out.append(text[position : m.start()])
        out.append(_ACTIVE_HTML_MARKER if tag in _ACTIVE_TAGS else _HIDDEN_HTML_MARKER)
        position = m.end() if tag in _VOID_TAGS or attrs.rstrip().endswith("/") else _element_end(text, tag, m.end())
    out.append(text[position:])
    return "".join(out)


def _element_end(text: str, tag: str, position: int) -> int:
    """Where the element opened just before `position` closes; the end of text when it never does."""
    depth = 1
    for m in re.finditer(rf"<(/?){re.escape(tag)}(?![\w-])[^<>]{{0,2000}}>", text[position:], re.IGNORECASE):
        if m.group(1):
            depth -= 1
            if depth == 0:
                return position + m.end()
        elif not m.group().endswith("/>"):
            depth += 1
    return len(text)


def _defang_prose(text: str) -> str:
    text = _remove_comments(text)
    text = _remove_hidden_elements(text)
    # Images last: a marker put in by an earlier rule can complete one (`![a]` + `[removed: ...]`).
    text = _MD_IMAGE.sub(_md_image, _defang_everywhere(text))
    if "`" not in text and "~" not in text:
        return text
    # None of these lines opened a code block before; one that does now (```<!-- x --> became
    # ```[removed: ...]) is escaped so the next reading splits prose and code the same way.
    lines = text.split("\n")
    return "\n".join("\\" + line if _fence_line(line) else line for line in lines)


def _defang_everywhere(text: str) -> str:
    text = _CHAT_TOKEN.sub(_CHAT_MARKER, text)
    text = _ROLE_TAG.sub(_ROLE_MARKER, text)
    return _ENVELOPE_PREFIX.sub(_ENVELOPE_MARKER, text)


def _fence_line(line: str) -> tuple[str, str] | None:
    """(fence, info) when `line` (without its line break) opens or closes a fenced code block."""
    m = _FENCE.fullmatch(line)
    if m is None or (m.group(2)[0] == "`" and "`" in m.group(3)):
        return None
    return m.group(1) + m.group(2), m.group(3)


def _defang_markup(text: str) -> str:
    if not any(c in text for c in "<>!&[`~\uff1c\ufe64\uff5c"):
        return text
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        opened = _fence_line(bare)
        if fence is None:
            if opened is None:
                prose.append(line)
                continue
            out.append(_defang_prose_chunk("".join(prose)))
            prose = []
            fence = opened[0].strip()
            out.append(_defang_everywhere(opened[0] + _fence_info(opened[1]) + line[len(bare) :]))
        else:
            closing = opened is not None and not opened[1].strip() and opened[0].strip().startswith(fence)
            out.append(_defang_everywhere(line))
            if closing:
                fence = None
    out.append(_defang_prose_chunk("".join(prose)))
    return "".join(out)


def _defang_prose_chunk(chunk: str) -> str:
    # The line break before the next fence stays: an unclosed comment that hides "the rest" must
    # not pull the fence onto its line, or the next reading would see no fence there.
    body = chunk.removesuffix("\n")
    return _defang_prose(body) + chunk[len(body) :]


def _fence_info(info: str) -> str:
    """The info string of an opening fence, dropped when it is anything but a language name."""
    word = info.strip()
    if not word:
        return info
    if _LANGUAGE_INFO.fullmatch(word) and word.split()[0].lower().strip("{}.") not in _INSTRUCTION_WORDS:
        return info
    return ""


def sanitize(text: str) -> str:
    """`text` without hidden characters or markup that hides, exfiltrates or impersonates a role."""
    text = _strip_hidden(text)
    if "&" in text:
        text = _strip_hidden_entities(text)
    return _defang_markup(text)


# --- length --------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?](?=[\s\"')\]\u300d\u300f]|$)|[\u3002\uff01\uff1f]")  # also CJK full stops


def clip(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters at a line or sentence boundary, with a visible marker.

    The cut falls at the last line break in the second half of the allowance, else the last
    sentence end, else the last space; text with no space at all (a long token, CJK) is cut at
    `limit` but never inside a character sequence such as an emoji or a base with its accents.
    """
    if len(text) <= limit:
        return text
    head = text[:limit]
    floor = limit // 2
    cut = head.rfind("\n")
    if cut < floor:
        ends = [m.end() for m in _SENTENCE_END.finditer(head, floor)]
        cut = ends[-1] if ends else -1
    if cut < floor:
        cut = max(head.rfind(" "), head.rfind("\t"), head.rfind("\u3000"))
    if cut <= 0:
        cut = limit
        while cut > 0 and _continues(text[cut]):
            cut -= 1
    kept = text[:cut].rstrip()
    return f"{kept} [… {len(text) - len(kept):,} more characters]"


def _continues(ch: str) -> bool:
    """`ch` belongs to the character before it: a combining mark, joiner or selector."""
    cp = ord(ch)
    return cp in (_ZWJ, _ZWNJ, 0x20E3) or _is_variation_selector(cp) or unicodedata.combining(ch) > 0


# --- envelope ------------------------------------------------------------------------------------

_NONCE = re.compile(r"[0-9a-f]{12,64}")


def new_nonce() -> str:
    """A fresh envelope nonce; make one per answer, after the untrusted text is in hand."""
    return secrets.token_hex(8)


def wrap(text: str, nonce: str) -> str:
    """`text` inside `<untrusted-NONCE>` tags that nothing inside can close or imitate."""
    if not _NONCE.fullmatch(nonce):
        raise ValueError("the envelope nonce must be 12 to 64 lowercase hex digits; use new_nonce()")
    body = _ENVELOPE_PREFIX.sub(_ENVELOPE_MARKER, _ROLE_TAG.sub(_ROLE_MARKER, text))
    body = body.replace(nonce, "[removed: envelope nonce]")
    return f"<untrusted-{nonce}>\n{body}\n</untrusted-{nonce}>"


# --- records -------------------------------------------------------------------------------------


def clean(text: str, *, limit: int | None = None) -> str:
    """`text` sanitized, then clipped to `limit` characters when one is given."""
    cleaned = sanitize(text)
    return cleaned if limit is None else clip(cleaned, limit)


def clean_record(
    record: M,
    *,
    limit: int | None = None,
    nonce: str | None = None,
    redact: bool = False,
    allow: Collection[str] = (),
) -> M:
    """A copy of `record` with every string inside it sanitized.

    `redact` replaces private data (see `server.redact`), keeping the `allow` terms; `limit` clips
    each string; `nonce` wraps each free-text field (`FREE_TEXT_FIELDS`) in the envelope.
    """
    # Imported here: phonenumbers and stdnum cost start-up time a session without redaction never needs.
    from server.redact import redact as redact_text

    def one(value: str, field: str | None) -> str:
        value = sanitize(value)
        if redact:
            value = redact_text(value, allow=allow).text
        if limit is not None:
            value = clip(value, limit)
        if nonce is not None and field in FREE_TEXT_FIELDS:
            value = wrap(value, nonce)
        return value

    def walk(value: Any, field: str | None) -> Any:
        if isinstance(value, str):
            return one(value, field)
        if isinstance(value, BaseModel):
            return value.model_copy(update={k: walk(v, k) for k, v in value.__dict__.items()})
        if isinstance(value, list):
            return [walk(v, field) for v in value]  # pyright: ignore[reportUnknownVariableType]
        return value

    cleaned: M = walk(record, None)
    return cleaned


def lockdown_sources(value: str | Iterable[str]) -> frozenset[str]:
    """The sources named in `ESCALATION_LOCKDOWN` (`support,chat`); an unknown name is an error."""
    names = value.split(",") if isinstance(value, str) else list(value)
    chosen = frozenset(n.strip().lower() for n in names if n.strip())
    if unknown := sorted(chosen - SOURCES):
        raise ValueError(f"unknown lockdown source(s): {', '.join(unknown)}; choose from {', '.join(sorted(SOURCES))}")
    return chosen


def lockdown(record: M) -> M:
    """A copy of `record` with its customer-written text withheld and its metadata kept.

    Every free-text field (`FREE_TEXT_FIELDS`), also in nested records such as a ticket's comments,
    says how much was withheld instead; ids, authors, dates, statuses, tags and links stay.
    """

    def walk(value: Any, field: str | None) -> Any:
        if isinstance(value, str):
            if field in FREE_TEXT_FIELDS and value:
                return f"[withheld: {len(value):,} characters of customer-written text; lockdown is on]"
            return value
        if isinstance(value, BaseModel):
            return value.model_copy(update={k: walk(v, k) for k, v in value.__dict__.items()})
        if isinstance(value, list):
            return [walk(v, field) for v in value]  # pyright: ignore[reportUnknownVariableType]
        return value

    withheld: M = walk(record, None)
    return withheld
