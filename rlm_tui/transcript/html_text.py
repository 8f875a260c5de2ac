"""Model-written text as safe HTML: code highlighted by Pygments, Markdown rendered by
markdown-it-py. Both are already installed (Pygments with Rich, markdown-it-py with Textual).

Model text is hostile: the Markdown renderer lets no raw HTML through (`html=False`), keeps
links only to http, https and mailto addresses, shows images as links (a page that loads
nothing), and escapes every text; Pygments escapes what it highlights.
"""

from __future__ import annotations

import json
from functools import cache
from html import escape
from typing import Any

# Code past this size is shown plain: highlighting costs ~1 ms per 2 KB, and a cell that
# printed megabytes is read by searching, not by colour.
HIGHLIGHT_LIMIT = 200_000
SAFE_SCHEMES = ("http://", "https://", "mailto:")


def highlight(code: str, language: str = "python") -> str:
    """`code` as a <pre class="hl"> of coloured spans (plain, escaped, past HIGHLIGHT_LIMIT
    or for a language Pygments does not know)."""
    if not code or len(code) > HIGHLIGHT_LIMIT:
        return f'<pre class="hl">{escape(code)}</pre>'
    from pygments import highlight as pygmentize
    from pygments.util import ClassNotFound

    try:
        lexer = _lexer(language.lower() or "text")
    except ClassNotFound:
        return f'<pre class="hl">{escape(code)}</pre>'
    body = pygmentize(code, lexer, _formatter())
    return f'<pre class="hl">{body.rstrip()}</pre>'


@cache
def _lexer(language: str) -> Any:
    from pygments.lexers import get_lexer_by_name

    if language == "repl":  # the fences the root model writes
        language = "python"
    return get_lexer_by_name(language, stripnl=False, ensurenl=False)


@cache
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True, classprefix="t-")


@cache
def highlight_css() -> str:
    """The token colours: a light style, and a dark one under prefers-color-scheme."""
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="default", classprefix="t-").get_token_style_defs(".hl")
    dark = HtmlFormatter(style="github-dark", classprefix="t-").get_token_style_defs(".hl")
    return ("\n".join(light) + "\n@media (prefers-color-scheme: dark) {\n"
            + "\n".join(dark) + "\n}\n")


def render_markdown(text: str) -> str:
    """Markdown (CommonMark, tables, strikethrough) as HTML with nothing active in it."""
    return _markdown().render(text)


def render_answer(text: str) -> str:
    """An answer: JSON (a typed answer) highlighted as JSON, anything else as Markdown."""
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and len(stripped) < HIGHLIGHT_LIMIT:
        try:
            value = json.loads(stripped)
        except ValueError:
            pass
        else:
            return highlight(json.dumps(value, ensure_ascii=False, indent=2), "json")
    return render_markdown(text)


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(SAFE_SCHEMES)


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "highlight": _fence})
    md.enable(["table", "strikethrough"])
    md.validateLink = _safe_link  # refused links stay as the text they were written as
    md.add_render_rule("image", _image_as_link)
    md.add_render_rule("link_open", _link_open)
    return md


def _fence(code: str, language: str, _attrs: str) -> str:
    return highlight(code, language or "text")


def _link_open(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    href = tokens[idx].attrGet("href") or ""
    return f'<a href="{escape(href)}" rel="noopener noreferrer nofollow">'


def _image_as_link(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    """An image as a link to it: the page loads nothing (its CSP forbids images too)."""
    token = tokens[idx]
    alt = escape(self.renderInlineAsText(token.children or [], options, env)) or "image"
    src = token.attrGet("src") or ""
    if not _safe_link(src):
        return f"[image: {alt}]"
    return f'<a href="{escape(src)}" rel="noopener noreferrer nofollow">[image: {alt}]</a>'
