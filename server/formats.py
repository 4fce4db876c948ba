"""A rendered brief (Markdown, as `prompts/templates/brief.*.md.j2` writes it) in each vendor's format.

Pure functions returning the fragment of the vendor's request body that carries the text; the
adapter adds the channel, project or team. Redact before rendering: these functions only format.

- Slack `chat.postMessage`: `text` in mrkdwn (the notification and fallback) plus Block Kit
  `blocks` (a `header` with the title, a `section` per part of the brief, `divider`s between),
  with `unfurl_links` and `unfurl_media` false so no link in a brief fetches a preview. Limits
  from Block Kit's reference: header text 150 characters, section text 3,000, 50 blocks.
- Microsoft Teams `chatMessage`: `{"body": {"contentType": "html", "content": ...}}` (Graph v1.0
  `POST /teams/{id}/channels/{id}/messages` or `/chats/{id}/messages`).
- Jira Cloud: the issue's `description` as an Atlassian Document Format document (version 1):
  headings, paragraphs, ordered lists for repro steps, bullet lists, code blocks with their
  language, quotes, rules, tables; marks strong, em, strike, code and link.
- Linear `issueCreate`: `description` in Markdown, which Linear renders itself.

Markdown is parsed by `markdown-it-py` (CommonMark, tables, strikethrough) with raw HTML off, so
angle brackets in a brief are text in every format, never markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.tree import SyntaxTreeNode

SLACK_HEADER_LIMIT: Final = 150
SLACK_SECTION_LIMIT: Final = 3000
SLACK_BLOCK_LIMIT: Final = 50

Json = dict[str, Any]


@cache
def _parser() -> MarkdownIt:
    # Imported and built on first use, then shared (stateless once configured): a session that
    # posts nothing never pays for the parser at start-up.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


def _tree(markdown: str) -> SyntaxTreeNode:
    from markdown_it.tree import SyntaxTreeNode

    return SyntaxTreeNode(_parser().parse(markdown))


def title(markdown: str) -> str | None:
    """The brief's first heading as plain text (`ESCALATION: ...`), for an issue title or a header."""
    for node in _tree(markdown).children:
        if node.type == "heading":
            return _plain(node)
    return None


def _plain(node: SyntaxTreeNode) -> str:
    if node.type in ("text", "code_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(_plain(child) for child in node.children)


# --- Slack ---------------------------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    # Slack reads `&`, `<` and `>` as control characters (`<!channel>`, `<url|label>`).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn_inline(node: SyntaxTreeNode) -> str:
    match node.type:
        case "text":
            return _slack_escape(node.content)
        case "code_inline":
            return f"`{_slack_escape(node.content)}`"
        case "softbreak":
            return " "
        case "hardbreak":
            return "\n"
        case "strong":
            return _wrap_marks("*", _mrkdwn_children(node))
        case "em":
            return _wrap_marks("_", _mrkdwn_children(node))
        case "s":
            return _wrap_marks("~", _mrkdwn_children(node))
        case "link":
            href = str(node.attrs.get("href", ""))
            label = _mrkdwn_children(node).replace("|", "¦")
            return f"<{_slack_escape(href).replace('|', '%7C')}|{label}>" if href else label
        case "image":
            return _slack_escape(_plain(node))
        case _:
            return _mrkdwn_children(node)


def _wrap_marks(mark: str, inner: str) -> str:
    # mrkdwn needs the marks against the words: `*Severity:* ` works, `* Severity *` does not.
    stripped = inner.strip()
    if not stripped:
        return inner
    lead, trail = inner[: len(inner) - len(inner.lstrip())], inner[len(inner.rstrip()) :]
    return f"{lead}{mark}{stripped}{mark}{trail}"


def _mrkdwn_children(node: SyntaxTreeNode) -> str:
    return "".join(_mrkdwn_inline(child) for child in node.children)


def _mrkdwn_block(node: SyntaxTreeNode, indent: str = "") -> str:
    match node.type:
        case "heading":
            return f"*{_mrkdwn_children(node.children[0]).strip()}*" if node.children else ""
        case "paragraph":
            return _mrkdwn_children(node.children[0]) if node.children else ""
        case "bullet_list" | "ordered_list":
            start = int(node.attrs.get("start", 1)) if node.type == "ordered_list" else 1
            lines: list[str] = []
            for number, item in enumerate(node.children, start):
                bullet = f"{number}. " if node.type == "ordered_list" else "• "
                body = "\n".join(_mrkdwn_block(child, indent + "    ") for child in item.children)
                lines.append(f"{indent}{bullet}{body.lstrip()}")
            return "\n".join(lines)
        case "fence" | "code_block":
            return f"```\n{_slack_escape(node.content.rstrip(chr(10)))}\n```"
        case "blockquote":
            inner = "\n".join(_mrkdwn_block(child) for child in node.children)
            return "\n".join(f"&gt; {line}" if line else "&gt;" for line in inner.split("\n"))
        case "hr":
            return "───"
        case "table":
            return "\n".join(_table_rows(node, _mrkdwn_children, " | "))
        case _:
            return "\n".join(_mrkdwn_block(child, indent) for child in node.children)


def _table_rows(node: SyntaxTreeNode, cell: Any, separator: str) -> Iterator[str]:
    for part in node.children:
        for row in part.children:
            yield separator.join(cell(c.children[0]) if c.children else "" for c in row.children)


def _split_section(text: str) -> list[str]:
    """Pieces of at most `SLACK_SECTION_LIMIT` characters, cut between lines; a code block cut in
    two is closed at the end of one piece and opened again at the start of the next."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0  # length of "\n".join(current) plus one
    in_code = False
    width = SLACK_SECTION_LIMIT - 16
    for line in text.split("\n"):
        for chunk in [line[i : i + width] for i in range(0, len(line), width)] or [""]:
            if current and size + len(chunk) + (4 if in_code else 0) > SLACK_SECTION_LIMIT:
                pieces.append("\n".join(current) + ("\n```" if in_code else ""))
                current = ["```"] if in_code else []
                size = sum(len(c) + 1 for c in current)
            current.append(chunk)
            size += len(chunk) + 1
            if chunk.startswith("```"):
                in_code = not in_code
    if current:
        pieces.append("\n".join(current))
    return pieces


def slack_message(markdown: str) -> Json:
    """The `text`, `blocks`, `unfurl_links` and `unfurl_media` of a Slack `chat.postMessage` body.

    The first level-2 heading (the brief's title) becomes the `header`; whatever precedes it (the
    DRAFT banner) is the first section, and each further heading starts a section after a divider.
    """
    tree = _tree(markdown)
    header: Json | None = None
    sections: list[list[str]] = [[]]
    for node in tree.children:
        if header is None and node.type == "heading" and node.tag == "h2":
            text = _plain(node)
            if len(text) > SLACK_HEADER_LIMIT:
                text = text[: SLACK_HEADER_LIMIT - 1].rstrip() + "…"
            header = {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}
            sections.append([])
            continue
        if node.type == "heading" and sections[-1]:
            sections.append([])
        sections[-1].append(_mrkdwn_block(node))
    blocks: list[Json] = [header] if header else []
    for number, section in enumerate(s for s in sections if s):
        if number:
            blocks.append({"type": "divider"})
        pieces = _split_section("\n\n".join(section))
        blocks.extend({"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in pieces)
    if len(blocks) > SLACK_BLOCK_LIMIT:
        kept = blocks[: SLACK_BLOCK_LIMIT - 1]
        note = f"_{len(blocks) - len(kept)} more blocks are in the message text._"
        blocks = [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}]
    text = "\n\n".join(_mrkdwn_block(node) for node in tree.children)
    return {"text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


# --- Microsoft Teams -----------------------------------------------------------------------------


def teams_message(markdown: str) -> Json:
    """The `body` of a Microsoft Graph `chatMessage`: the brief as HTML, every character escaped."""
    content = _parser().render(markdown).strip()
    return {"body": {"contentType": "html", "content": content}}


# --- Jira (Atlassian Document Format) ------------------------------------------------------------


def _adf_inline(node: SyntaxTreeNode, marks: tuple[Json, ...] = ()) -> list[Json]:
    match node.type:
        case "text":
            return [_adf_text(node.content, marks)] if node.content else []
        case "code_inline":
            # ADF lets `code` share a text node only with `link`.
            kept = tuple(m for m in marks if m["type"] == "link")
            return [_adf_text(node.content, (*kept, {"type": "code"}))] if node.content else []
        case "softbreak":
            return [_adf_text(" ", marks)]
        case "hardbreak":
            return [{"type": "hardBreak"}]
        case "strong" | "em" | "s":
            mark = {"strong": "strong", "em": "em", "s": "strike"}[node.type]
            return _adf_children(node, (*marks, {"type": mark}))
        case "link":
            href = str(node.attrs.get("href", ""))
            return _adf_children(node, (*marks, {"type": "link", "attrs": {"href": href}}) if href else marks)
        case "image":
            return [_adf_text(_plain(node), marks)] if _plain(node) else []
        case _:
            return _adf_children(node, marks)


def _adf_text(text: str, marks: tuple[Json, ...]) -> Json:
    node: Json = {"type": "text", "text": text}
    if marks:
        node["marks"] = list(marks)
    return node


def _adf_children(node: SyntaxTreeNode, marks: tuple[Json, ...] = ()) -> list[Json]:
    return [piece for child in node.children for piece in _adf_inline(child, marks)]


def _adf_paragraph(node: SyntaxTreeNode | None) -> Json:
    content = _adf_children(node) if node is not None else []
    return {"type": "paragraph", "content": content} if content else {"type": "paragraph"}


def _adf_block(node: SyntaxTreeNode) -> list[Json]:
    match node.type:
        case "paragraph":
            return [_adf_paragraph(node.children[0] if node.children else None)]
        case "heading":
            content = _adf_children(node.children[0]) if node.children else []
            heading: Json = {"type": "heading", "attrs": {"level": int(node.tag[1])}}
            return [{**heading, "content": content} if content else heading]
        case "bullet_list":
            return [{"type": "bulletList", "content": [_adf_item(item) for item in node.children]}]
        case "ordered_list":
            order = int(node.attrs.get("start", 1))
            items = [_adf_item(item) for item in node.children]
            return [{"type": "orderedList", "attrs": {"order": order}, "content": items}]
        case "fence" | "code_block":
            code = node.content.rstrip("\n")
            language = node.info.strip().split(" ")[0] if node.type == "fence" else ""
            block: Json = {"type": "codeBlock", "attrs": {"language": language} if language else {}}
            return [{**block, "content": [{"type": "text", "text": code}]} if code else block]
        case "blockquote":
            return [{"type": "blockquote", "content": [b for child in node.children for b in _adf_block(child)]}]
        case "hr":
            return [{"type": "rule"}]
        case "table":
            return [_adf_table(node)]
        case _:
            return [b for child in node.children for b in _adf_block(child)]


def _adf_item(item: SyntaxTreeNode) -> Json:
    content = [b for child in item.children for b in _adf_block(child)]
    # A list item must start with a paragraph or a code block.
    if not content or content[0]["type"] not in ("paragraph", "codeBlock"):
        content.insert(0, {"type": "paragraph"})
    return {"type": "listItem", "content": content}


def _adf_table(node: SyntaxTreeNode) -> Json:
    rows: list[Json] = []
    for part in node.children:
        for row in part.children:
            cells: list[Json] = [
                {
                    "type": "tableHeader" if cell.type == "th" else "tableCell",
                    "attrs": {},
                    "content": [_adf_paragraph(cell.children[0] if cell.children else None)],
                }
                for cell in row.children
            ]
            rows.append({"type": "tableRow", "content": cells})
    return {"type": "table", "attrs": {"isNumberColumnEnabled": False, "layout": "default"}, "content": rows}


def jira_description(markdown: str) -> Json:
    """The brief as an Atlassian Document Format document, for a Jira Cloud issue's `description`."""
    content = [block for node in _tree(markdown).children for block in _adf_block(node)]
    return {"type": "doc", "version": 1, "content": content}


# --- Linear --------------------------------------------------------------------------------------

_HARD_BREAK = re.compile(r" {2,}$", re.MULTILINE)


def linear_description(markdown: str) -> str:
    """The brief as the Markdown of a Linear issue's `description`.

    Linear keeps a single line break as a break, so the template's trailing-two-space hard breaks
    (invisible and easily lost when someone edits the issue) become plain line ends.
    """
    return _HARD_BREAK.sub("", markdown).strip() + "\n"
