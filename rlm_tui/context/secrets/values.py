"""Whether a value found by a rule is a real secret rather than code, a placeholder or prose:
the judgement that the token and the assignment rules share."""

from __future__ import annotations

import re

_PLACEHOLDERS = frozenset(
    {
        "changeme",
        "change_me",
        "change-me",
        "password",
        "passwd",
        "secret",
        "token",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "redacted",
        "placeholder",
        "dummy",
        "example",
        "required",
        "optional",
        "string",
    }
)
_PLACEHOLDER_MARKS = (
    "${",
    "{{",
    "%(",
    "%s",
    "{0}",
    "{}",
    "example",
    "placeholder",
    "your_",
    "your-",
    "<your",
    "xxxx",
    "***",
    "...",
    "changeme",
    "redacted",
    "://",
    "environ",
    "getenv",
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_WORDS = re.compile(r"[A-Za-z]+(?:[_.\-][A-Za-z]+)*")
_NUMBER = re.compile(r"[0-9.\-_]+")


def value_is_secret(value: str, quoted: bool) -> bool:
    """Whether an assigned value looks like a real secret rather than code or a placeholder."""
    if len(value) < (6 if quoted else 8):
        return False
    lower = value.lower()
    if lower in _PLACEHOLDERS or len(set(value)) <= 2:
        return False
    if any(mark in lower for mark in _PLACEHOLDER_MARKS):
        return False
    if value[0] in "$%@&*<[({/~.#" or value.startswith(("./", "../")):
        return False  # variables, references, special tokens like "[PAD]"/"<s>", paths
    if ("{" in value and "}" in value) or ("<" in value and ">" in value) or "(" in value:
        return False  # templates "{token}", "pat/<token>", code "get_token()"
    if _NUMBER.fullmatch(value) or _ENV_NAME.fullmatch(value) or _WORDS.fullmatch(value):
        return False  # numbers, ENV_NAMES, words: "bearer", "NextToken", "fake-key"
    if quoted and any(ch.isspace() for ch in value):
        return False  # prose, e.g. a prompt "Enter your password"
    if _DOTTED.fullmatch(value):
        return False  # self.token, settings.SECRET_KEY, "List.NextMarker"
    if _IDENTIFIER.fullmatch(value):
        # A bare identifier is a variable unless it mixes letters and digits without `_`.
        return "_" not in value and mixes_letters_and_digits(value)
    return True


def mixes_letters_and_digits(text: str) -> bool:
    return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


_CREDENTIAL_PLACEHOLDERS = _PLACEHOLDERS | {"pass", "pwd", "pw", "user", "username"}


def credential_is_real(value: str) -> bool:
    """Whether a value where only credentials go (a URL's password, curl -u's, a Basic
    Authorization header's) is a real one: judged more loosely than an assigned value, as its
    place says what it is. Placeholders (`password`, `${DB_PASS}`, `{password}`, `<token>`,
    `$PW`, `***`) are not."""
    lower = value.lower()
    if lower in _CREDENTIAL_PLACEHOLDERS or len(set(value)) <= 1:
        return False
    if value[0] in "$%" or any(mark in lower for mark in _PLACEHOLDER_MARKS):
        return False
    return not ("{" in value or "<" in value or "(" in value)
