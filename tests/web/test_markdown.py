"""Descriptions in Markdown: formatted, and never a way for a catalog to put HTML,
scripts or fetches into tomo's pages."""

from __future__ import annotations

import pytest

from tomo.web.markdown import LINK_REL, markdown, plain_text


def test_marks_become_formatting() -> None:
    html = markdown("Streams **films** and *music*.\n\n- one\n- two\n\n1. first\n2. `second`")

    assert "<p>Streams <strong>films</strong> and <em>music</em>.</p>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "<ol>\n<li>first</li>\n<li><code>second</code></li>\n</ol>" in html


def test_a_line_break_of_the_text_is_kept_for_the_page_to_show() -> None:
    assert markdown("Default username: admin\nDefault password: secret") == (
        "<p>Default username: admin\nDefault password: secret</p>\n"
    )


def test_raw_html_is_shown_as_text() -> None:
    html = markdown('<script>alert("x")</script>\n\nHi <img src=x onerror=alert(1)> <b>there</b>')

    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_web_and_mail_links_are_kept_and_vouched_for_by_no_one() -> None:
    html = markdown("[site](https://example.org/a?b=1) [mail](mailto:me@example.org) <http://x>")

    for url in ("https://example.org/a?b=1", "mailto:me@example.org", "http://x"):
        assert f'<a href="{url}" rel="{LINK_REL}">' in html
    assert LINK_REL == "noopener noreferrer nofollow"


@pytest.mark.parametrize(
    "link",
    ["[x](javascript:alert(1))", "[x](JavaScript:alert(1))", "[x](data:text/html,hi)",
     "[x](vbscript:x)", "[x](/admin/users)", "[x](//evil.example)", "[x](file:///etc/passwd)",
     "[x]\n\n[x]: javascript:alert(1)"],
)  # fmt: skip
def test_a_link_anywhere_else_leaves_only_its_words(link: str) -> None:
    assert markdown(link) == "<p>x</p>\n"


def test_an_autolink_anywhere_else_is_its_text() -> None:
    assert markdown("<javascript:alert(1)>") == "<p>javascript:alert(1)</p>\n"


def test_an_image_is_never_loaded_but_linked_to() -> None:
    html = markdown("![The main screen](https://img.example.org/main.png)")

    assert "<img" not in html
    assert html == (f'<p><a href="https://img.example.org/main.png" rel="{LINK_REL}">'
                    "The main screen</a></p>\n")  # fmt: skip


def test_an_image_inside_a_link_is_its_alt_text() -> None:
    html = markdown("[![build passing](https://badge.example.org/b.svg)](https://ci.example.org)")

    assert html == f'<p><a href="https://ci.example.org" rel="{LINK_REL}">build passing</a></p>\n'


def test_an_image_at_an_address_no_link_may_go_to_is_its_words() -> None:
    assert markdown("![x](data:image/png;base64,AAAA)") == "<p>x</p>\n"
    assert markdown("![the logo](./logo.jpg)") == "<p>the logo</p>\n"
    assert markdown("![](https://img.example.org/a.png)").endswith(">image</a></p>\n")


@pytest.mark.parametrize(
    ("written", "shown"),
    [("# Title", "<h3>Title</h3>"), ("## Part", "<h4>Part</h4>"), ("### Sub", "<h5>Sub</h5>"),
     ("#### Deep", "<h6>Deep</h6>"), ("###### Deepest", "<h6>Deepest</h6>"),
     ("Title\n=====", "<h3>Title</h3>")],
)  # fmt: skip
def test_headings_start_below_the_pages_own(written: str, shown: str) -> None:
    assert markdown(written) == shown + "\n"


def test_nothing_is_nothing() -> None:
    assert markdown(None) == "" and markdown("  \n") == ""
    assert plain_text(None) == "" and plain_text("") == ""


def test_plain_text_is_the_words_without_their_marks() -> None:
    text = "**Key Features:**\n- Fast *search*\n- [Docs](https://d.example.org) `x`"

    assert plain_text(text) == "Key Features: Fast search Docs x"
    assert plain_text("# Title\n\n![a screen](https://i.example.org/a.png) &amp; \\*") == (
        "Title a screen & *"
    )
    assert plain_text('<script>alert("x")</script>') == '<script>alert("x")</script>'
    assert plain_text("```\ncode here\n```") == "code here"
