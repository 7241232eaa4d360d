"""Snippets show the part of a document that matched."""

from omnidex.retrieval.snippets import snippet


def test_short_text_is_returned_whole_with_whitespace_collapsed() -> None:
    assert snippet("two\n\nlines   here", "anything") == "two lines here"


def test_long_text_is_cut_around_the_query_words() -> None:
    text = (
        "filler words here. " * 30 + "Clean the solar panels every spring. " + "more filler. " * 30
    )
    cut = snippet(text, "when to clean solar panels", width=120)
    assert "solar panels" in cut
    assert cut.startswith("…") and cut.endswith("…")
    assert len(cut) <= 122


def test_without_matching_words_the_snippet_is_the_start() -> None:
    text = "alpha beta gamma " * 50
    cut = snippet(text, "zebra", width=60)
    assert cut.startswith("alpha") and cut.endswith("…")
