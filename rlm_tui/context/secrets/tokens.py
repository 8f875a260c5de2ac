"""Token rules: secrets known by their own shape (a private key block, an AWS or GitHub key, a
JWT, ...) or by their place (a URL's password, the token after `Bearer`, curl -u's password,
an Authorization header's value). Each rule carries its regex, the judge of its matches and
its prefilter patterns.

Speed: `re` searches fast only for a pattern that starts with a literal (about as fast as
`bytes.find`); an alternation of many literals is scanned byte by byte, 10-20x slower. So
each rule starts with one literal, the rarer letter where a word has one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rlm_tui.context.secrets.spans import Span
from rlm_tui.context.secrets.values import (
    credential_is_real,
    mixes_letters_and_digits,
    value_is_secret,
)


# Compared and hashed by identity: the prefilter puts rules in sets per line, and hashing a
# compiled pattern costs a pass over its code.
@dataclass(frozen=True, eq=False, slots=True)
class TokenRule:
    """A rule for one kind of token (or a few that share a scan)."""

    regex: re.Pattern[bytes]  # starts with a literal, so `re` searches it fast
    judge: Callable[[re.Match[bytes]], Span | None]  # the span to mask, or None to keep
    # Necessary conditions of `regex` in Hyperscan's syntax, matching case: the regex without
    # its look-arounds and length caps, whole leading word included (see prefilter.py).
    prefilter: tuple[bytes, ...]


_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _starts_word(data: bytes, start: int) -> bool:
    """Whether `start` begins a word: "task-..." holds no "sk-..." key."""
    return start == 0 or data[start - 1] not in _ALNUM


def _judge_private_key(match: re.Match[bytes]) -> Span:
    return match.start(), match.end(), "private-key"


def _judge_aws_or_google(match: re.Match[bytes]) -> Span | None:
    if not _starts_word(match.string, match.start()):
        return None
    kind = "google-api-key" if match.group().startswith(b"AIza") else "aws-access-key"
    return match.start(), match.end(), kind


def _judge_github(match: re.Match[bytes]) -> Span | None:
    if not _starts_word(match.string, match.start()):
        return None
    return match.start(), match.end(), "github-token"


def _judge_sk(match: re.Match[bytes]) -> Span | None:
    # The match starts at the "k" of "sk-" (OpenAI, Anthropic) or "sk_"/"rk_" (Stripe).
    data, start = match.string, match.start() - 1
    if start < 0 or not _starts_word(data, start):
        return None
    lead, token = data[start : start + 1], match.group()  # token: "k-..." or "k_..."
    if token.startswith(b"k_"):
        return (start, match.end(), "stripe-key") if lead in (b"r", b"s") else None
    if lead != b"s":
        return None
    if token.startswith(b"k-ant-"):
        return start, match.end(), "anthropic-key"
    if not mixes_letters_and_digits(token[2:].decode("ascii")):
        return None  # "sk-learn-compatible-estimators" is a word, not a key
    return start, match.end(), "openai-key"


def _judge_slack(match: re.Match[bytes]) -> Span | None:
    if not _starts_word(match.string, match.start()):
        return None
    return match.start(), match.end(), "slack-token"


def _judge_jwt(match: re.Match[bytes]) -> Span | None:
    # The match starts at the "J" of the header "eyJ..." (the rarer letter leads the scan).
    data, start = match.string, match.start() - 2
    if start < 0 or data[start : start + 2] != b"ey" or not _starts_word(data, start):
        return None
    return start, match.end(), "jwt"


PRIVATE_KEY = TokenRule(
    # The whole block: base64, PEM headers (Proc-Type: 4,ENCRYPTED) and, inside JSON,
    # "\n" escapes, up to the END line; code between two marker strings is not a block.
    # Without an END line (a truncated key): the header and the base64 lines after it. A
    # lone header (a constant in code that parses keys) is not a secret.
    re.compile(
        rb"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        rb"(?:[A-Za-z0-9+/=:,\s\\\-]{0,20000}?"
        rb"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        rb"|(?:\r?\n[ \t]*[A-Za-z0-9+/=]{20,}[ \t]*(?=\r?\n|\Z))+)"
    ),
    _judge_private_key,
    # The header alone: the block spans lines, so the rule runs on the whole text.
    (rb"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY",),
)
AWS_OR_GOOGLE = TokenRule(
    re.compile(
        rb"A(?:(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}(?![0-9A-Za-z])|Iza[0-9A-Za-z_\-]{35}(?![\w\-]))"
    ),
    _judge_aws_or_google,
    (rb"A(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}", rb"AIza[0-9A-Za-z_\-]{35}"),
)
GITHUB = TokenRule(
    re.compile(rb"g(?:h[pousr]_[A-Za-z0-9]{36,251}|ithub_pat_[A-Za-z0-9_]{22,255})(?!\w)"),
    _judge_github,
    (rb"gh[pousr]_[A-Za-z0-9]{36}", rb"github_pat_[A-Za-z0-9_]{22}"),
)
SK = TokenRule(
    # One scan for "sk-" and "sk_"/"rk_": the rarer "k" leads.
    re.compile(
        rb"k(?:-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"
        rb"|_(?:live|test)_[0-9A-Za-z]{16,})"
    ),
    _judge_sk,
    (rb"[sr]k(?:-[A-Za-z0-9_\-]{20}|_(?:live|test)_[0-9A-Za-z]{16})",),
)
SLACK = TokenRule(
    re.compile(rb"xox[baprs]-[A-Za-z0-9\-]{10,}"),
    _judge_slack,
    (rb"xox[baprs]-[A-Za-z0-9\-]{10}",),
)
JWT = TokenRule(
    re.compile(rb"J[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    _judge_jwt,
    (rb"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8}",),
)


def _judge_url(match: re.Match[bytes]) -> Span | None:
    if not credential_is_real(match.group("secret").decode("utf-8", "replace")):
        return None
    return match.start("secret"), match.end("secret"), "url-password"


def _led_by(match: re.Match[bytes], leads: bytes) -> bool:
    """Whether the byte before the match is one of `leads` and begins a word (the match
    starts at the second letter of a word such as "Bearer": the rarer letters lead)."""
    data, start = match.string, match.start() - 1
    return start >= 0 and data[start] in leads and _starts_word(data, start)


def _judge_bearer(match: re.Match[bytes]) -> Span | None:
    if not _led_by(match, b"Bb"):
        return None
    if not value_is_secret(match.group("secret").decode("ascii"), quoted=False):
        return None  # "Bearer authentication", "Bearer YOUR_TOKEN", "bearer self.token"
    return match.start("secret"), match.end("secret"), "bearer-token"


def _judge_authorization(match: re.Match[bytes]) -> Span | None:
    if not _led_by(match, b"Aa"):
        return None
    value = match.group("secret").decode("ascii")
    # After "Basic" or "Token" the value is a credential (base64 of "user:password" may be
    # letters only); a bare value must look like a secret, not `authorization = header.value`.
    if match.group("scheme") is not None:
        real = credential_is_real(value)
    else:
        real = value_is_secret(value, quoted=False)
    return (match.start("secret"), match.end("secret"), "authorization") if real else None


def _judge_curl(match: re.Match[bytes]) -> Span | None:
    if not _starts_word(match.string, match.start()):
        return None
    if not credential_is_real(match.group("secret").decode("utf-8", "replace")):
        return None
    return match.start("secret"), match.end("secret"), "curl-password"


URL_CREDENTIALS = TokenRule(
    # scheme://user:PASSWORD@host (the user may be empty: redis://:PASSWORD@host).
    re.compile(rb"://[^\s/?#@:'\"<>]{0,100}:(?P<secret>[^\s/?#@'\"<>]{1,200})@"),
    _judge_url,
    (rb"://[^\s/?#@:'\"<>]*:[^\s/?#@'\"<>]+@",),
)
_B64_TOKEN = rb"[A-Za-z0-9\-._~+/]"  # RFC 6750's b64token: bearer tokens, base64
BEARER = TokenRule(
    re.compile(rb"earer[ \t]+(?P<secret>" + _B64_TOKEN + rb"{8,}=*)"),
    _judge_bearer,
    (rb"[Bb]earer[ \t]+" + _B64_TOKEN + rb"{8}",),
)
AUTHORIZATION = TokenRule(
    # An Authorization header's value, in HTTP, curl -H, a dict or a config; "Bearer ..."
    # is BEARER's.
    re.compile(
        rb"uthorization[\"']?[ \t]*[:=,][ \t]*[\"']?(?:(?P<scheme>Basic|Token|token)[ \t]+)?"
        rb"(?P<secret>" + _B64_TOKEN + rb"{8,}=*)"
    ),
    _judge_authorization,
    (
        rb"[Aa]uthorization[\"']?[ \t]*[:=,][ \t]*[\"']?(?:(?:Basic|Token|token)[ \t]+)?"
        + _B64_TOKEN + rb"{8}",
    ),
)
CURL_USER = TokenRule(
    # curl -u user:PASSWORD, --user user:PASSWORD, --user=user:PASSWORD.
    re.compile(
        rb"curl[ \t](?:[^\r\n]{0,500}?[ \t])?(?:-u|--user)(?:[ \t]+|=)[\"']?[^\s:\"']{0,100}:"
        rb"(?P<secret>[^\s\"']{1,200})"
    ),
    _judge_curl,
    (rb"curl[ \t](?:[^\r\n]*[ \t])?(?:-u|--user)(?:[ \t]+|=)[\"']?[^\s:\"']*:[^\s\"']",),
)
# Two rules need a "k" ("PRIVATE KEY", "sk-", "sk_", "rk_"), as do the names "token" and
# "key": one scan of the lowercased text for "k" finds those names and flags the texts where
# these two rules could match; only those are scanned for them (assignments.py).
FLAGGED_TOKEN_RULES = (PRIVATE_KEY, SK)
EVERYWHERE_TOKEN_RULES = (
    AWS_OR_GOOGLE,
    GITHUB,
    SLACK,
    JWT,
    URL_CREDENTIALS,
    BEARER,
    AUTHORIZATION,
    CURL_USER,
)
TOKEN_RULES: tuple[TokenRule, ...] = (*FLAGGED_TOKEN_RULES, *EVERYWHERE_TOKEN_RULES)


def token_spans(
    data: bytes,
    rules: Sequence[TokenRule] = TOKEN_RULES,
    start: int = 0,
    end: int | None = None,
) -> list[Span]:
    """The spans of `rules` in `data[start:end]`, rule by rule (offsets in `data`)."""
    end = len(data) if end is None else end
    spans: list[Span] = []
    for rule in rules:
        for match in rule.regex.finditer(data, start, end):
            span = rule.judge(match)
            if span is not None:
                spans.append(span)
    return spans
