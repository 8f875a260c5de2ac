"""Assignment rules: values assigned to names that end in password, passwd, passphrase,
secret, token, or key after api, access, private, auth or secret (only the value is masked;
the name stays). Names are found in the lowercased text; each name rule carries its regex,
the kind it masks as and its prefilter patterns.

Speed: each name's regex starts with one literal and checks the letters before it by
look-behind, so that `re` rejects the many `key =` and `token =` of ordinary code without a
Python call; one scan of the lowercased text for "k" serves "token", "key" and the flags of
the token rules that need a "k".
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set
from dataclasses import dataclass

from rlm_tui.context.secrets.spans import Span, text_of
from rlm_tui.context.secrets.tokens import TokenRule, token_spans
from rlm_tui.context.secrets.values import value_is_secret
from rlm_tui.context.windows import WINDOW_BYTES, line_windows

_VALUE_BYTE = rb"[A-Za-z0-9+/=_\-.~@%^$!*:\x80-\xff]"  # what a bare value is made of
_WORDS_ONLY = rb"[A-Za-z]+(?:[_.\-][A-Za-z]+)*"  # as values._WORDS


# What follows a secret-naming name: `=`, `:`, `:=` or `=>`, then a quoted or a bare value at
# least `shortest` bytes long (quoted, bare). Every class in it holds both cases of a letter
# or neither, so it matches the lowercased text exactly where it matches the text. With
# `words`, a value made of words alone and too short to be a token is no value either.
def _tail(shortest: tuple[int, int], words: bool = False) -> bytes:
    quoted, bare = (b"%d" % n for n in shortest)
    not_words_quoted = not_words_bare = b""
    if words:
        not_words_quoted = rb"(?!(?=[^\"'`\r\n]{1,14}(?P=q))" + _WORDS_ONLY + rb"(?P=q))"
        end = rb"(?!" + _VALUE_BYTE + rb")"
        short = rb"(?=" + _VALUE_BYTE + rb"{1,14}" + end + b")"
        not_words_bare = rb"(?!" + short + _WORDS_ONLY + end + b")"
    return (
        rb"[\"']?\]?[ \t]*"
        # An annotation (`password: str = ...`) is skipped so that its `=` is the separator.
        rb"(?::[ \t]*[A-Za-z_][\w\[\]., |]{0,40}?[ \t]*(?==))?"
        rb"(?::=|=>|=(?!=)|:)[ \t]*"
        rb"(?:(?P<q>[\"'`])"
        + not_words_quoted
        + rb"(?P<qval>[^\"'`\r\n]{" + quoted + rb",300}?)(?P=q)"
        # Bare values keep to characters seen in keys and passwords, so that code such as
        # `client_secret:t.secret??null` or `token:a||b` is not a value, and must end the line
        # (or meet a comment, `,` or `;`): one followed by more words is prose
        # ("api_key: Optional. The key to use.").
        + rb"|" + not_words_bare + rb"(?P<uval>" + _VALUE_BYTE + rb"{" + bare + rb",300}+)"
        rb"(?=[ \t]*(?:[,;]|\#|//|\r?\n|\Z)))"
    )


_ASSIGNMENT_TAIL = re.compile(_tail((1, 1)))

# The tail again for the prefilter, in Hyperscan's syntax: without look-arounds and length
# caps, plus what `value_is_secret` demands: a value of letters and "_" alone is never a
# secret (a token inside one is its own pattern's match).
_HS_QUOTED = rb"[^\"'`\r\n]"
_HS_QUOTED_NOT_WORD = rb"[^A-Za-z_\"'`\r\n]"
_HS_BARE_NOT_WORD = rb"[0-9+/=\-.~@%^$!*:\x80-\xff]"  # _VALUE_BYTE less letters and "_"
_HS_TAIL = (
    rb"[\"']?\]?[ \t]*(?::[ \t]*[A-Za-z_][\w\[\]., |]*[ \t]*)?(?::=|=>|=|:)[ \t]*(?:"
    + b"|".join(
        quote + _HS_QUOTED + b"*" + _HS_QUOTED_NOT_WORD + _HS_QUOTED + b"*" + quote
        for quote in (b'"', b"'", b"`")
    )
    + b"|" + _VALUE_BYTE + b"*" + _HS_BARE_NOT_WORD + _VALUE_BYTE
    + rb"*[ \t]*(?:[,;#\r\n]|//|\z))"
)


# Compared and hashed by identity, as TokenRule is: the prefilter puts rules in sets per line.
@dataclass(frozen=True, eq=False, slots=True)
class NameRule:
    """A scan of the lowercased text for names that end in a secret-naming word."""

    kind: str  # what the value after such a name is masked as (a key's: by its owner)
    regex: re.Pattern[bytes]  # starts with a literal, so `re` searches it fast
    # Necessary conditions of a name and its value in Hyperscan's syntax, ignoring case.
    prefilter: tuple[bytes, ...]


# The word must end the name (`tokenizer =` and `max_tokens =` are not secrets). `key` alone
# is too common: it counts only after api, access, private, auth or secret.
_KEY_OWNERS = (b"api", b"access", b"private", b"auth", b"secret")
_KEY_OWNER = re.compile(rb"(api|access|private|auth|secret)[_\-]?\Z")
# A name counts only if a value that could be secret follows: shorter values never are, nor
# words alone (`value_is_secret`), and token kinds are 15 bytes or longer.
_NAME_END = rb"(?![a-z0-9_])(?=" + _tail((6, 8), words=True) + rb")"
PASSWORD_NAMES = NameRule(
    "password",
    re.compile(rb"pass(?:w(?:or)?d|phrase)" + _NAME_END),
    (rb"pass(?:w(?:or)?d|phrase)" + _HS_TAIL,),
)
SECRET_NAMES = NameRule(
    "secret",
    re.compile(rb"cret(?<=secret)" + _NAME_END),  # "c" is rarer than "s"
    (rb"secret" + _HS_TAIL,),
)
K_NAMES = NameRule(
    "token",
    re.compile(
        rb"k(?:e(?:(?P<token>n)(?<=token)|y(?:"
        + b"|".join(rb"(?<=%skey)|(?<=%s[_\-]key)" % (owner, owner) for owner in _KEY_OWNERS)
        + rb"))"
        + _NAME_END
        # Not names: flags for the private key and "sk-" rules (in lowercase, so more than
        # those rules match: they then scan the text and decide).
        + rb"|(?P<flag>ey(?<=private key)|[\-_](?<=[sr]k[\-_])))"
    ),
    (
        rb"token" + _HS_TAIL,
        rb"(?:" + b"|".join(_KEY_OWNERS) + rb")[_\-]?key" + _HS_TAIL,
    ),
)
ALL_NAME_RULES = frozenset({PASSWORD_NAMES, SECRET_NAMES, K_NAMES})

_AWS_SECRET_VALUE = re.compile(r"[A-Za-z0-9/+=]{40}")
_SHORTEST_TOKEN = 15  # "xoxb-" and ten characters; every other token kind is longer


def assignment_spans(data: bytes, starts: Sequence[int], flagged: set[int]) -> list[list[Span]]:
    """Assignment spans per text, in rule order; adds to `flagged` the texts that the
    private key and "sk-" rules must scan."""
    if len(data) <= WINDOW_BYTES or len(starts) > 1:
        found = assignment_rule_spans(data, data.lower(), 0, starts, flagged)
        return [[span for rule in text for span in rule] for text in found]
    # A huge text is lowercased a window at a time (all on one line is all a match needs),
    # so that it is not copied whole; lowering ASCII keeps every offset.
    spans: list[Span] = []
    for window, window_end in line_windows(data, 0, len(data)):
        lowered = data[window:window_end].lower()
        (found,) = assignment_rule_spans(data, lowered, window, (0,), flagged)
        spans += [span for rule in found for span in rule]
    return [spans]


def assignment_rule_spans(
    data: bytes,
    lowered: bytes,
    window: int,
    starts: Sequence[int],
    flagged: set[int],
    scans: Set[TokenRule | NameRule] = ALL_NAME_RULES,
) -> list[list[list[Span]]]:
    """The spans in `lowered`, the lowercased `data[window:window + len(lowered)]`, per text
    and per rule (password, secret, token, key), for the texts of `data` that begin at `starts`
    (offsets in `data`); adds to `flagged` the texts where a private key or "sk-" could be.
    Only the name rules in `scans` run (the others find nothing there)."""
    found: list[list[list[Span]]] = [[[], [], [], []] for _ in starts]
    for rule, names in enumerate((PASSWORD_NAMES, SECRET_NAMES)):
        if names not in scans:
            continue
        for name in names.regex.finditer(lowered):
            text = text_of(starts, window + name.start())
            _add_assignment(found[text][rule], data, window, starts[text], name, names.kind)
    for name in K_NAMES.regex.finditer(lowered) if K_NAMES in scans else ():
        text = text_of(starts, window + name.start())
        if name.start("flag") != -1:
            flagged.add(text)
        elif name.start("token") != -1:
            _add_assignment(found[text][2], data, window, starts[text], name, K_NAMES.kind)
        else:
            owner = _KEY_OWNER.search(lowered, max(0, name.start() - 8), name.start())
            assert owner is not None  # the pattern's look-behind found one
            kind = "api-key" if owner.group(1) == b"api" else "secret-key"
            _add_assignment(found[text][3], data, window, starts[text], name, kind)
    return found


def _specific_kind(value: bytes) -> str | None:
    """The token kind an assigned value holds (an `api_key = "sk-..."`), if any."""
    for _, _, kind in token_spans(value):
        return kind
    return None


def _add_assignment(
    spans: list[Span],
    data: bytes,
    window: int,
    text_start: int,
    name: re.Match[bytes],
    kind: str,
) -> None:
    match = _ASSIGNMENT_TAIL.match(data, window + name.end())
    assert match is not None  # the name's pattern looked ahead for it
    group = "qval" if match.group("qval") is not None else "uval"
    raw = match.group(group)
    specific = _specific_kind(raw) if len(raw) >= _SHORTEST_TOKEN else None
    if specific is not None:
        kind = specific
    else:
        value = raw.decode("utf-8", "replace")
        if not value_is_secret(value, quoted=group == "qval"):
            return
        named_at = window + name.start()
        before = data[max(text_start, named_at - 26) : named_at].lower()
        if b"aws" in before and _AWS_SECRET_VALUE.fullmatch(value):
            kind = "aws-secret-key"
    start, end = match.span(group)
    spans.append((start, end, kind))
