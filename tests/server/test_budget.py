"""Answers within the budget: clipped text says so, at a sentence or line, never mid-word."""

from __future__ import annotations

from server.budget import clip, marker


def test_short_text_is_left_alone():
    assert clip("All good.", 100) == "All good."


def test_long_text_is_cut_after_a_sentence_with_a_marker_saying_how_much_is_left_out():
    text = "First sentence here. Second one is longer than the window allows for sure. " * 3

    clipped = clip(text, 30)

    assert clipped.startswith("First sentence here.")
    assert clipped.endswith(marker(len(text) - len("First sentence here.")))
    assert clipped == f"First sentence here. {marker(len(text) - len('First sentence here.'))}"


def test_a_code_block_that_ends_just_past_the_window_is_kept_whole():
    block = '```\n{"error":{"type":"internal_error","request_id":"req_8c1f2e7a94d3"}}\n```'
    text = f"It fails with:\n{block}\nMore prose that does not fit. " + "x " * 200

    clipped = clip(text, 80)

    assert block in clipped
    assert "more characters]" in clipped


def test_text_without_boundaries_is_cut_at_a_space_never_mid_word():
    text = "word " * 100

    clipped = clip(text, 52)

    assert clipped.split(" [")[0].split(" ")[-1] == "word"
