"""Tokens, queries, snippets, spelling and rendering: the pure parts of the knowledge base."""

from __future__ import annotations

import html
import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge_base.query import message_query, parse_query
from knowledge_base.ranking import Candidate, helpful_share, rank
from knowledge_base.rendering import plain_text, render_markdown
from knowledge_base.snippets import highlight, make_snippet
from knowledge_base.spelling import best_correction, edit_distance
from knowledge_base.text import index_text, tokens

TEXT = st.text(alphabet=st.sampled_from(list("abcxyz 密码重置打印机 \"-()*:^ORNOT'\u2019é\n")), max_size=60)


def test_chinese_is_indexed_as_bigrams_then_single_characters():
    assert index_text("重置密码 printer") == "重置 置密 密码 printer 重 置 密 码"
    assert [t.text for t in tokens("如何重置我的密码?", drop_stopwords=True)] == ["重置", "密码"]


def test_plain_words_are_ored_phrases_required_and_exclusions_kept_out():
    query = parse_query('how do I "reset link" -vpn printer OR router')
    assert query.terms == ("printer", "router")
    assert query.phrases == (("reset", "link"),)
    assert query.excluded == ("vpn",)
    assert query.fts5() == '(("reset link") AND ("printer" OR "router" OR "reset link")) NOT "vpn"'
    assert query.websearch() == '"reset link" printer or router -vpn'


def test_a_message_query_skips_quoted_text_and_the_signature():
    text = (
        "My printer is offline again.\nThe printer worked yesterday.\n"
        "> old reply about invoices\n-- \nAnn, Invoice Dept"
    )
    query = message_query(text)
    assert query.terms[0] == "printer"
    assert "invoices" not in query.terms
    assert "invoice" not in query.terms
    assert "ann" not in query.terms


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_any_input_becomes_a_valid_fts5_expression(text):
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(a, tokenize = 'porter unicode61')")
    connection.execute("INSERT INTO t VALUES ('reset password 重置 置密 密码 printer')")
    query = parse_query(text)
    if not query.empty:
        connection.execute("SELECT count(*) FROM t WHERE t MATCH ?", (query.fts5(),)).fetchone()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.lists(st.sampled_from(["password", "reset", "密码", "<b>", "&"]), max_size=3))
def test_snippets_escape_everything_but_their_own_marks(text, terms):
    snippet = make_snippet(text, terms)
    unmarked = snippet.html.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in unmarked
    shown = html.unescape(unmarked).strip("…")
    assert shown in " ".join(text.split())


def test_snippets_mark_word_forms_and_chinese():
    marked = highlight("Passwords expire; reset your password. 忘记密码", ["password", "密码"])
    assert marked == "<mark>Passwords</mark> expire; reset your <mark>password</mark>. 忘记<mark>密码</mark>"
    long = "Intro. " * 60 + "To reset your password open Settings."
    assert "<mark>reset</mark>" in make_snippet(long, ["reset"]).html


@given(st.text(alphabet="abcde", max_size=8), st.text(alphabet="abcde", max_size=8))
def test_edit_distance_is_a_symmetric_distance(a, b):
    assert edit_distance(a, a) == 0
    assert edit_distance(a, b, 20) == edit_distance(b, a, 20)
    assert (edit_distance(a, b, 20) == 0) == (a == b)


def test_corrections_prefer_the_closest_then_the_commonest_word():
    vocabulary = {"password": 4, "passport": 9, "printer": 3}
    assert best_correction("pasword", vocabulary) == "password"
    assert best_correction("printr", vocabulary) == "printer"
    assert best_correction("password", vocabulary) is None
    assert best_correction("xylophone", vocabulary) is None
    assert edit_distance("recieve", "receive") == 1  # a transposition is one edit


def test_helpfulness_only_nudges_the_text_order():
    strong = Candidate(1, relevance=10.0, title="Reset your password", helpful_no=50)
    weak = Candidate(2, relevance=4.0, title="Account locked", helpful_yes=50)
    assert [c.article_id for c, _ in rank([strong, weak], ["password"])] == [1, 2]
    tied = [Candidate(3, 5.0, "A", helpful_no=3), Candidate(4, 5.0, "B", helpful_yes=3)]
    assert [c.article_id for c, _ in rank(tied, ["x"])] == [4, 3]
    assert helpful_share(0, 0) == 0.5


def test_rendering_sanitises_and_plain_text_drops_markup():
    rendered = render_markdown("# Title\n\n<script>alert(1)</script> [x](javascript:alert(1)) [ok](https://e.example)")
    assert "<script>" not in rendered
    assert 'href="javascript' not in rendered
    assert '<a href="https://e.example" rel="noopener noreferrer">ok</a>' in rendered
    assert plain_text("**Bold** and `code` & more\n\n- item") == "Bold and code & more\nitem"
    # Raw HTML in an article is text, not markup: kept literally here, escaped wherever it is shown.
    assert plain_text("<b>x</b> *y*") == "<b>x</b> y"


CANDIDATES = st.lists(
    st.builds(
        Candidate,
        article_id=st.integers(1, 10_000),
        relevance=st.floats(0, 100, allow_nan=False),
        title=st.sampled_from(["Reset your password", "Printer offline", "重置密码", ""]),
        helpful_yes=st.integers(0, 1000),
        helpful_no=st.integers(0, 1000),
    ),
    max_size=20,
    unique_by=lambda candidate: candidate.article_id,
)


@given(CANDIDATES, st.lists(st.sampled_from(["password", "printer", "重置"]), max_size=3))
def test_ranking_reorders_without_losing_or_inventing_articles(candidates, terms):
    ranked = rank(candidates, terms)
    assert sorted(c.article_id for c, _ in ranked) == sorted(c.article_id for c in candidates)
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True)
