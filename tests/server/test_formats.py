"""A rendered brief becomes each vendor's payload fragment, in the shapes the vendors document:
Slack Block Kit, a Microsoft Graph chatMessage body, Atlassian Document Format, Linear Markdown."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from server.brief import BriefInput, BriefRenderer, missing_fields
from server.formats import (
    SLACK_BLOCK_LIMIT,
    SLACK_HEADER_LIMIT,
    SLACK_SECTION_LIMIT,
    jira_description,
    linear_description,
    slack_message,
    teams_message,
    title,
)
from server.models import Language, Target

RENDERER = BriefRenderer()

SMALL = """\
## ESCALATION: Orders <fail> & retry

**Severity:** High  
**Customer:** Acme Corp

### Reproduction Steps
1. POST /v2/orders with `Idempotency-Key`
2. See [ENG-2398](https://acme.atlassian.net/browse/ENG-2398)

```python
print("500")
```
"""  # noqa: W291 (the template's hard line breaks)


Validate = Callable[[object], list[str]]


@pytest.fixture(scope="module")
def adf_errors() -> Validate:
    """The published ADF JSON schema, compiled once (4 s; a generic validator takes 3 s per document)."""
    schema = json.loads((Path(__file__).parent / "schemas" / "adf-v1-full.json").read_text())
    validate = fastjsonschema.compile(schema)

    def errors(document: object) -> list[str]:
        try:
            validate(document)
        except fastjsonschema.JsonSchemaException as exc:
            return [str(exc)]
        return []

    return errors


def brief(**changes: Any) -> BriefInput:
    fields: dict[str, Any] = {
        "summary": "Intermittent HTTP 500 on POST /v2/orders for Acme Corp",
        "targets": ["engineering"],
        "severity": "high",
        "customer": "Acme Corp",
        "customers_affected": "1 enterprise customer",
        "description": 'About 1 in 20 calls fail.\n\n```json\n{"error": "internal_error"}\n```',
        "repro_steps": ["POST /v2/orders 100 times", "Count the `500` responses"],
        "expected": "201",
        "actual": "500",
        "environment": "Production",
        "evidence": ["upstream connect error or disconnect/reset before headers"],
        "needed": ["Investigate root cause"],
        "deadline": "2026-11-23",
        "links": ["https://acme.atlassian.net/browse/ENG-2398"],
    }
    return BriefInput(**{**fields, **changes})


def rendered(b: BriefInput, language: Language = "en") -> str:
    return RENDERER.render(b, language=language, today=date(2026, 11, 20), missing=missing_fields(b))


def test_the_title_is_the_first_heading_as_plain_text():
    assert title(SMALL) == "ESCALATION: Orders <fail> & retry"


def test_slack_gets_a_header_sections_and_dividers_in_mrkdwn_with_unfurling_off():
    assert slack_message(SMALL) == {
        "text": (
            "*ESCALATION: Orders &lt;fail&gt; &amp; retry*\n\n"
            "*Severity:* High\n*Customer:* Acme Corp\n\n"
            "*Reproduction Steps*\n\n"
            "1. POST /v2/orders with `Idempotency-Key`\n"
            "2. See <https://acme.atlassian.net/browse/ENG-2398|ENG-2398>\n\n"
            '```\nprint("500")\n```'
        ),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "ESCALATION: Orders <fail> & retry", "emoji": True},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Severity:* High\n*Customer:* Acme Corp"}},
            {"type": "divider"},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        "*Reproduction Steps*\n\n"
                        "1. POST /v2/orders with `Idempotency-Key`\n"
                        "2. See <https://acme.atlassian.net/browse/ENG-2398|ENG-2398>\n\n"
                        '```\nprint("500")\n```'
                    ),
                },
            },
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def test_slack_text_cannot_mention_the_channel_or_forge_a_link():
    message = slack_message("Ping <!channel> and <https://evil.example|click here> & more")

    assert message["text"] == "Ping &lt;!channel&gt; and &lt;https://evil.example|click here&gt; &amp; more"


def test_a_long_brief_stays_within_slack_block_limits_and_keeps_code_fences_balanced():
    long_brief = brief(
        summary="S" * 200,
        description="\n\n".join(f"Paragraph {i}: " + "lorem ipsum " * 40 for i in range(20))
        + "\n\n```\n"
        + "\n".join(f"retry {i}: 500" for i in range(400))
        + "\n```",
        evidence=[f"log line {i} " + "x" * 300 for i in range(60)],
    )

    blocks = slack_message(rendered(long_brief))["blocks"]

    assert len(blocks) <= SLACK_BLOCK_LIMIT
    assert len(blocks[0]["text"]["text"]) <= SLACK_HEADER_LIMIT
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(text) <= SLACK_SECTION_LIMIT for text in sections)
    assert all(text.count("```") % 2 == 0 for text in sections)


def test_teams_gets_an_html_chat_message_body_with_everything_escaped():
    assert teams_message(SMALL) == {
        "body": {
            "contentType": "html",
            "content": (
                "<h2>ESCALATION: Orders &lt;fail&gt; &amp; retry</h2>\n"
                "<p><strong>Severity:</strong> High<br />\n<strong>Customer:</strong> Acme Corp</p>\n"
                "<h3>Reproduction Steps</h3>\n"
                "<ol>\n<li>POST /v2/orders with <code>Idempotency-Key</code></li>\n"
                '<li>See <a href="https://acme.atlassian.net/browse/ENG-2398">ENG-2398</a></li>\n</ol>\n'
                '<pre><code class="language-python">print(&quot;500&quot;)\n</code></pre>'
            ),
        }
    }


def test_teams_html_carries_no_raw_markup_from_the_brief():
    content = teams_message("<script>alert(1)</script> <img src=x onerror=y> [x](javascript:alert(1))")["body"][
        "content"
    ]

    assert "<script" not in content
    assert "<img" not in content
    assert 'href="javascript' not in content


def test_jira_gets_adf_with_repro_steps_as_an_ordered_list_and_code_kept():
    assert jira_description(SMALL) == {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "heading",
                "attrs": {"level": 2},
                "content": [{"type": "text", "text": "ESCALATION: Orders <fail> & retry"}],
            },
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Severity:", "marks": [{"type": "strong"}]},
                    {"type": "text", "text": " High"},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "Customer:", "marks": [{"type": "strong"}]},
                    {"type": "text", "text": " Acme Corp"},
                ],
            },
            {"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": "Reproduction Steps"}]},
            {
                "type": "orderedList",
                "attrs": {"order": 1},
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [
                                    {"type": "text", "text": "POST /v2/orders with "},
                                    {"type": "text", "text": "Idempotency-Key", "marks": [{"type": "code"}]},
                                ],
                            }
                        ],
                    },
                    {
                        "type": "listItem",
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [
                                    {"type": "text", "text": "See "},
                                    {
                                        "type": "text",
                                        "text": "ENG-2398",
                                        "marks": [
                                            {
                                                "type": "link",
                                                "attrs": {"href": "https://acme.atlassian.net/browse/ENG-2398"},
                                            }
                                        ],
                                    },
                                ],
                            }
                        ],
                    },
                ],
            },
            {
                "type": "codeBlock",
                "attrs": {"language": "python"},
                "content": [{"type": "text", "text": 'print("500")'}],
            },
        ],
    }


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
@pytest.mark.parametrize("target", ["engineering", "product", "security", "leadership", "l2_support"])
def test_every_rendered_brief_is_a_valid_adf_document(adf_errors: Validate, language: Language, target: Target):
    document = jira_description(rendered(brief(targets=[target]), language))

    assert adf_errors(document) == []


def test_a_brief_with_tables_quotes_rules_and_nested_lists_is_valid_adf(adf_errors: Validate):
    markdown = "> quote\n\n---\n\n| a | b |\n|---|---|\n| `1` | **2** |\n\n- x\n  1. y\n\n      code\n- ~~z~~ *w*\n"

    document = jira_description(markdown)

    assert adf_errors(document) == []
    assert [node["type"] for node in document["content"]] == ["blockquote", "rule", "table", "bulletList"]


def test_the_adf_schema_rejects_what_jira_would(adf_errors: Validate):
    # The schema check above is only worth something if it can fail: an empty text node is invalid.
    broken = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}],
    }

    assert adf_errors(broken) != []


def test_linear_gets_the_markdown_with_plain_line_ends():
    assert linear_description(SMALL) == SMALL.replace("  \n", "\n")


def test_a_draft_brief_keeps_the_header_first_and_the_banner_as_a_quote_right_below():
    draft = brief(deadline=None)

    blocks = slack_message(rendered(draft))["blocks"]

    assert blocks[0]["type"] == "header"
    assert blocks[1] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "&gt; *DRAFT: not ready to send.* Missing: deadline (deadline), "
            "workflow_impact (business impact), and time_in_queue (customer timeline).",
        },
    }


def test_a_korean_brief_keeps_its_text_in_every_format():
    markdown = rendered(brief(), "ko")

    assert title(markdown) in slack_message(markdown)["blocks"][0]["text"]["text"]
    assert "Acme Corp" in teams_message(markdown)["body"]["content"]
    assert linear_description(markdown).startswith(markdown.strip().split("\n")[0])
