"""App descriptions written in Markdown (CasaOS, Runtipi and Umbrel write them so),
as formatted text a page can hold safely, and as plain words for a card.

A description comes from whoever publishes a catalog, so the renderer trusts none
of it: raw HTML shows as text (the parser's HTML is off), a link goes only to
http, https or mailto (any other, `javascript:` above all, leaves only its words)
and tells the browser to send nothing and vouch for nothing, an image is never
loaded (a page must not fetch from wherever a catalog points: it becomes a link
to the image, or its words), and headings start below the page's own: the
description sits under the "About" h2.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markupsafe import Markup

SAFE_SCHEMES = ("http://", "https://", "mailto:")
LINK_REL = "noopener noreferrer nofollow"
HEADING_OFFSET = 2  # a description's "#" is the page's h3
_DEEPEST_HEADING = 6


def markdown(text: str | None) -> Markup:
    """The description as HTML; "" for none."""
    return Markup(_PARSER.render(text or ""))  # noqa: S704 - HTML off, links checked


def plain_text(text: str | None) -> str:
    """The words of a Markdown text without its marks (`**Key Features:**` reads
    `Key Features:`), on one line."""
    words = [_block_words(token) for token in _PARSER.parse(text or "")]
    return " ".join(" ".join(words).split())


def _block_words(token: Token) -> str:
    if token.type == "inline":
        return _inline_words(token.children or [])
    if token.type in ("fence", "code_block"):
        return token.content
    return ""


def _inline_words(children: list[Token]) -> str:
    words = []
    for child in children:
        if child.type in ("text", "text_special", "code_inline"):
            words.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            words.append(" ")
        elif child.type == "image":
            words.append(_inline_words(child.children or []))
    return "".join(words)


def _safe_link(url: str) -> bool:
    """Whether a link (or an image's address) may stay one: an absolute web or mail
    address; a relative one would point into tomo itself."""
    return url.strip().lower().startswith(SAFE_SCHEMES)


def _made_safe(state: StateCore) -> None:
    """Headings moved below the page's, links checked, images made links."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = _demoted(token.tag)
        elif token.type == "inline" and token.children:
            token.children = _safe_inline(token.children)


def _any_link(url: str) -> bool:
    return True


def _demoted(tag: str) -> str:
    return f"h{min(int(tag[1:]) + HEADING_OFFSET, _DEEPEST_HEADING)}"


def _safe_inline(children: list[Token]) -> list[Token]:
    """A safe link given LINK_REL, another one only its words; each image a link to
    it named by its alt text, or only that text (inside a link, a badge say: links
    do not nest; or at an address no link may go to)."""
    kept: list[Token] = []
    links: list[bool] = []  # of each link open here: whether it is kept
    for child in children:
        if child.type == "link_open":
            links.append(_safe_link(str(child.attrGet("href") or "")))
            child.attrSet("rel", LINK_REL)
            kept.extend([child] if links[-1] else [])
        elif child.type == "link_close":
            kept.extend([child] if links.pop() else [])
        elif child.type == "image":
            kept.extend(_image_shown(child, inside_link=bool(links)))
        else:
            kept.append(child)
    return kept


def _image_shown(image: Token, *, inside_link: bool) -> list[Token]:
    words = _text(_inline_words(image.children or []) or "image")
    url = str(image.attrGet("src") or "")
    if inside_link or not _safe_link(url):
        return [words]
    opening = Token("link_open", "a", 1)
    opening.attrs = {"href": url, "rel": LINK_REL}
    return [opening, words, Token("link_close", "a", -1)]


def _text(words: str) -> Token:
    token = Token("text", "", 0)
    token.content = words
    return token


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "xhtmlOut": False})
    parser.enable(["table", "strikethrough"])
    # Every link and image is parsed as one, whatever its address, so that one
    # refused keeps its words rather than its marks: _safe_inline is the check.
    parser.validateLink = _any_link  # type: ignore[method-assign]
    parser.core.ruler.push("tomo_made_safe", _made_safe)
    return parser


_PARSER = _parser()
