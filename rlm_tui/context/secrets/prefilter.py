"""The prefilter: the rules' necessary conditions, in Hyperscan's syntax, found in one pass
(multiscan.py), so that the rules run only where they could match.

Every rule but the private key block matches within one line, and only where one of its
prefilter patterns matches on that line; so the rules run only on those lines (and the
private key rule on the texts where its header appears), and find there what they find
scanning everything. The patterns are those the rules carry (tokens.py, assignments.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rlm_tui.context.secrets.assignments import (
    ALL_NAME_RULES,
    K_NAMES,
    PASSWORD_NAMES,
    SECRET_NAMES,
    NameRule,
    assignment_rule_spans,
)
from rlm_tui.context.secrets.spans import Span, end_of, text_of
from rlm_tui.context.secrets.tokens import (
    AUTHORIZATION,
    AWS_OR_GOOGLE,
    BEARER,
    CURL_USER,
    EVERYWHERE_TOKEN_RULES,
    GITHUB,
    JWT,
    PRIVATE_KEY,
    SK,
    SLACK,
    URL_CREDENTIALS,
    TokenRule,
    token_spans,
)

# The patterns are compiled in this order, which the compiled cache file's name depends on
# (multiscan.py): a new order only compiles them anew once.
_RULES: tuple[TokenRule | NameRule, ...] = (
    PRIVATE_KEY,
    PASSWORD_NAMES,
    SECRET_NAMES,
    K_NAMES,
    AWS_OR_GOOGLE,
    GITHUB,
    SK,
    SLACK,
    JWT,
    URL_CREDENTIALS,
    BEARER,
    AUTHORIZATION,
    CURL_USER,
)
# Each pattern, whether it ignores case (names are found in the lowercased text), and the
# rule that runs on a line where it matches.
PREFILTER_TABLE: tuple[tuple[bytes, bool, TokenRule | NameRule], ...] = tuple(
    (pattern, isinstance(rule, NameRule), rule) for rule in _RULES for pattern in rule.prefilter
)
PATTERNS = [(pattern, caseless) for pattern, caseless, _ in PREFILTER_TABLE]


def cache_dir() -> Path:
    from platformdirs import user_cache_path  # deferred: only when patterns are compiled

    return user_cache_path("rlm-tui")


# The rules that run line by line, as ordered in the scan without Hyperscan, less the
# private key block.
_LINE_TOKEN_RULES = (*EVERYWHERE_TOKEN_RULES, SK)


def prefiltered_spans(
    data: bytes, starts: Sequence[int], hits: Sequence[tuple[int, int]]
) -> list[list[Span]]:
    """The spans that scanning every rule over `data` finds (token spans, then assignment
    spans, per text), given where the prefilter's patterns matched in `data`."""
    lines: dict[tuple[int, int], set[TokenRule | NameRule]] = {}  # whole lines, one text each
    key_blocks: set[int] = set()  # texts that hold a private key header
    for pattern, end in hits:
        text = text_of(starts, end - 1)  # no pattern matches a joint's newline
        runs = PREFILTER_TABLE[pattern][2]
        if runs is PRIVATE_KEY:
            key_blocks.add(text)
            continue
        first = max(data.rfind(b"\n", 0, end - 1) + 1, starts[text])
        newline = data.find(b"\n", end - 1)
        lines.setdefault((first, len(data) if newline == -1 else newline + 1), set()).add(runs)
    # Spans come line by line here, rule by rule in the full scan: the same to the masking,
    # which sorts them, as two spans with one start and end (a JWT that is a bearer token)
    # are on one line, where the rules keep their order.
    found_tokens: list[list[Span]] = [[] for _ in starts]
    assignments: list[list[Span]] = [[] for _ in starts]
    for text in sorted(key_blocks):
        end = end_of(data, starts, text)
        found_tokens[text] += token_spans(data, (PRIVATE_KEY,), starts[text], end)
    for (first, end), runs in sorted(lines.items()):
        text = text_of(starts, first)
        rules = [rule for rule in _LINE_TOKEN_RULES if rule in runs]
        if rules:
            found_tokens[text] += token_spans(data, rules, first, end)
        # On a line where a token rule's pattern matches, every name rule runs too, as a
        # value of letters alone may hold that token.
        scans = ALL_NAME_RULES if rules else runs
        lowered = data[first:end].lower()
        (found,) = assignment_rule_spans(data, lowered, first, (starts[text],), set(), scans)
        assignments[text] += [span for rule in found for span in rule]
    return [t + a for t, a in zip(found_tokens, assignments)]
