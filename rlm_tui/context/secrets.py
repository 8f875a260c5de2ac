"""Secrets never reach a model: files that hold them are skipped, values that look like them
are masked.

Two layers, both off with `include_secrets=True`:

1. `is_secret_file(path)` names files that exist to hold secrets, judged by name alone:
   - dotenv files: `.env`, `.env.local`, `.env.production`, `.envrc`, ... but not the
     committed templates `.env.example`, `.env.sample`, `.env.template`, `.env.dist`,
     `.env.defaults`, `.env.schema` (those are kept, and scanned like any other file);
   - private keys and key stores: `*.pem`, `*.key`, `*.p12`, `*.pfx`, `*.keystore`, `*.jks`,
     `*.ppk`, `id_rsa*`, `id_dsa*`, `id_ecdsa*`, `id_ed25519*` (public halves `*.pub` are kept),
     and everything under a `.ssh/` directory except `*.pub`;
   - credential stores: `.netrc`, `_netrc`, `.pgpass`, `.npmrc`, `.pypirc`, `.git-credentials`,
     `.dockercfg`, `.docker/config.json`, `credentials` (AWS), `credentials.json` and
     `client_secret*.json` (Google OAuth), `.htpasswd`, `*.kdbx` (KeePass),
     `*.tfstate` / `*.tfstate.backup` (Terraform state stores resource secrets in clear),
     `secrets.{json,yaml,yml,toml,ini,env}` and `.secrets`. Source files named `secrets.py`
     etc. are code, not secret stores, and are kept.
2. `mask_secrets(data)` replaces secret-looking values with `[REDACTED:<kind>]`: private key
   blocks (the whole block), AWS access key ids, GitHub, OpenAI, Anthropic,
   Slack, Google and Stripe keys, JWTs, and values assigned to names ending in password,
   passwd, passphrase, secret, token, api key, access key, secret key, private key or auth
   key (only the value is masked; the name stays). Assigned values that are clearly not
   secrets are left alone, to keep false positives low on ordinary code: references
   (`os.environ["PW"]`, `self.token`, `settings.SECRET_KEY`, bare identifiers without
   digits), empty or short strings, placeholders (`${VAR}`, `{{ var }}`, `<your-key>`,
   `xxx`, `changeme`, `***`), prose (contains spaces), paths and URLs, special tokens such as
   `"[PAD]"` or `"<s>"`, word-only values such as `"bearer"` or `"pad_token"`, and
   ENV_VAR_NAMES. The cost of that choice: a password made only of letters and `_.-` is not
   masked.

Speed (it runs over every loaded byte): `re` searches fast only for a pattern that starts
with a literal (about as fast as `bytes.find`); a combined alternation is scanned byte by
byte, 10-20x slower. So each scan starts with one literal, several rules share a scan where
they share a rare letter, and look-behinds and look-aheads reject the common non-secrets
(`key =`, `token = x`) inside `re`, not in Python. Seven scans plus a lowercased copy per
text; `mask_secrets_many` runs them once over many small files joined, not once per file.
About 0.4 s per 100 MB of code, on one core.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from itertools import accumulate
from typing import Callable, NamedTuple

from rlm_tui.context.windows import WINDOW_BYTES, line_windows

_ENV_TEMPLATE_SUFFIXES = frozenset(
    {"example", "sample", "template", "dist", "defaults", "default", "schema", "tpl"}
)
_SECRET_NAMES = frozenset(
    {
        ".netrc",
        "_netrc",
        ".pgpass",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
        ".dockercfg",
        "credentials",
        "credentials.json",
        ".htpasswd",
        ".secrets",
        "secrets.json",
        "secrets.yaml",
        "secrets.yml",
        "secrets.toml",
        "secrets.ini",
        "secrets.env",
    }
)
_SECRET_SUFFIXES = (
    ".pem",
    ".key",
    ".p12",
    ".pfx",
    ".keystore",
    ".jks",
    ".ppk",
    ".kdbx",
    ".tfstate",
    ".tfstate.backup",
)
_SSH_KEY_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")


def is_secret_file(path: str) -> bool:
    """Whether the file at `path` (relative, posix) exists to hold secrets, by its name alone."""
    directory, _, name = path.rpartition("/")
    lower = name.lower()
    if lower in (".env", ".envrc"):
        return True
    if lower.startswith((".env.", ".envrc.")):
        return lower.rsplit(".", 1)[-1] not in _ENV_TEMPLATE_SUFFIXES
    if lower in _SECRET_NAMES or lower.endswith(_SECRET_SUFFIXES):
        return True
    if lower.startswith(_SSH_KEY_PREFIXES) and not lower.endswith(".pub"):
        return True
    if lower.startswith("client_secret") and lower.endswith(".json"):
        return True
    if not directory:
        return False
    parents = directory.split("/")
    if ".ssh" in parents and not lower.endswith(".pub"):
        return True
    return lower == "config.json" and parents[-1] == ".docker"


# Speed: `re` searches fast only for a pattern that starts with a literal (about as fast as
# `bytes.find`); an alternation of many literals is scanned byte by byte, 10-20x slower. So
# each rule below starts with one literal, and the keyword rules run over a lowercased copy.


Span = tuple[int, int, str]  # start, end, kind of secret


class _TokenRule(NamedTuple):
    regex: re.Pattern[bytes]  # starts with a literal, so `re` searches it fast
    judge: Callable[[re.Match[bytes]], Span | None]  # the span to mask, or None to keep


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
    if not _mixes_letters_and_digits(token[2:].decode("ascii")):
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


_PRIVATE_KEY = _TokenRule(
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
)
_AWS_OR_GOOGLE = _TokenRule(
    re.compile(
        rb"A(?:(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}(?![0-9A-Za-z])|Iza[0-9A-Za-z_\-]{35}(?![\w\-]))"
    ),
    _judge_aws_or_google,
)
_GITHUB = _TokenRule(
    re.compile(rb"g(?:h[pousr]_[A-Za-z0-9]{36,251}|ithub_pat_[A-Za-z0-9_]{22,255})(?!\w)"),
    _judge_github,
)
_SK = _TokenRule(
    # One scan for "sk-" and "sk_"/"rk_": the rarer "k" leads.
    re.compile(
        rb"k(?:-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"
        rb"|_(?:live|test)_[0-9A-Za-z]{16,})"
    ),
    _judge_sk,
)
_SLACK = _TokenRule(re.compile(rb"xox[baprs]-[A-Za-z0-9\-]{10,}"), _judge_slack)
_JWT = _TokenRule(
    re.compile(rb"J[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    _judge_jwt,
)
_TOKEN_RULES: tuple[_TokenRule, ...] = (_PRIVATE_KEY, _AWS_OR_GOOGLE, _GITHUB, _SK, _SLACK, _JWT)
# Two rules need a "k" ("PRIVATE KEY", "sk-", "sk_", "rk_"), as do the names "token" and
# "key": one scan of the lowercased text for "k" finds those names and flags the texts where
# these two rules could match; only those are scanned for them.
_FLAGGED_TOKEN_RULES = (_PRIVATE_KEY, _SK)
_EVERYWHERE_TOKEN_RULES = (_AWS_OR_GOOGLE, _GITHUB, _SLACK, _JWT)

_VALUE_BYTE = rb"[A-Za-z0-9+/=_\-.~@%^$!*:\x80-\xff]"  # what a bare value is made of
_WORDS_ONLY = rb"[A-Za-z]+(?:[_.\-][A-Za-z]+)*"  # as `_WORDS`


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

# Names that end in a secret-naming word and are followed by a value, found in the lowercased
# text. The word must end the name (`tokenizer =` and `max_tokens =` are not secrets). `key`
# alone is too common: it counts only after api, access, private, auth or secret.
_KEY_OWNERS = (b"api", b"access", b"private", b"auth", b"secret")
_KEY_OWNER = re.compile(rb"(api|access|private|auth|secret)[_\-]?\Z")
# A name counts only if a value that could be secret follows: shorter values never are, nor
# words alone (`_value_is_secret`), and token kinds are 15 bytes or longer.
_NAME_END = rb"(?![a-z0-9_])(?=" + _tail((6, 8), words=True) + rb")"
# Each rule starts with one literal and checks the letters before it by look-behind, so that
# `re` rejects the many `key =` and `token =` of ordinary code without a Python call. "ken"
# and "key" share one scan; "cret" leads rather than "secret" as "c" is rarer than "s".
_PASSWORD_NAME = re.compile(rb"pass(?:w(?:or)?d|phrase)" + _NAME_END)
_SECRET_NAME = re.compile(rb"cret(?<=secret)" + _NAME_END)
_K_SCAN = re.compile(
    rb"k(?:e(?:(?P<token>n)(?<=token)|y(?:"
    + b"|".join(rb"(?<=%skey)|(?<=%s[_\-]key)" % (owner, owner) for owner in _KEY_OWNERS)
    + rb"))"
    + _NAME_END
    # Not names: flags for the private key and "sk-" rules (in lowercase, so more than
    # those rules match: they then scan the text and decide).
    + rb"|(?P<flag>ey(?<=private key)|[\-_](?<=[sr]k[\-_])))"
)

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
_AWS_SECRET_VALUE = re.compile(r"[A-Za-z0-9/+=]{40}")
_SHORTEST_TOKEN = 15  # "xoxb-" and ten characters; every other token kind is longer
_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _value_is_secret(value: str, quoted: bool) -> bool:
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
        return "_" not in value and _mixes_letters_and_digits(value)
    return True


def _mixes_letters_and_digits(text: str) -> bool:
    return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)



def _token_spans(data: bytes, rules: Sequence[_TokenRule] = _TOKEN_RULES) -> list[Span]:
    spans: list[Span] = []
    for rule in rules:
        for match in rule.regex.finditer(data):
            span = rule.judge(match)
            if span is not None:
                spans.append(span)
    return spans


def _specific_kind(value: bytes) -> str | None:
    """The token kind an assigned value holds (an `api_key = "sk-..."`), if any."""
    for _, _, kind in _token_spans(value):
        return kind
    return None


def _spans(data: bytes, starts: Sequence[int]) -> list[list[Span]]:
    """The spans to mask in each text of `data`, where texts joined by `_JOINT` begin at
    `starts`: token spans first, then assignment spans by rule (password, secret, token,
    key), as `mask_secrets` used to find them with every rule over each text."""
    tokens: list[list[Span]] = [[] for _ in starts]
    flagged: set[int] = set()
    assignments = _assignment_spans(data, starts, flagged)
    for span in _token_spans(data, _EVERYWHERE_TOKEN_RULES):
        tokens[_text_of(starts, span[0])].append(span)
    for index in sorted(flagged):
        start = starts[index]
        end = starts[index + 1] - len(_JOINT) if index + 1 < len(starts) else len(data)
        text = data if len(starts) == 1 else data[start:end]
        for first, last, kind in _token_spans(text, _FLAGGED_TOKEN_RULES):
            tokens[index].append((first + start, last + start, kind))
    return [t + a for t, a in zip(tokens, assignments)]


def _text_of(starts: Sequence[int], position: int) -> int:
    return bisect_right(starts, position) - 1


def _assignment_spans(data: bytes, starts: Sequence[int], flagged: set[int]) -> list[list[Span]]:
    """Assignment spans per text, in rule order; adds to `flagged` the texts that the
    private key and "sk-" rules must scan."""
    if len(data) <= WINDOW_BYTES or len(starts) > 1:
        return _assignment_spans_in(data, data.lower(), 0, starts, flagged)
    # A huge text is lowercased a window at a time (all on one line is all a match needs),
    # so that it is not copied whole; lowering ASCII keeps every offset.
    spans: list[Span] = []
    for window, window_end in line_windows(data, 0, len(data)):
        lowered = data[window:window_end].lower()
        (found,) = _assignment_spans_in(data, lowered, window, (0,), flagged)
        spans += found
    return [spans]


def _assignment_spans_in(
    data: bytes, lowered: bytes, window: int, starts: Sequence[int], flagged: set[int]
) -> list[list[Span]]:
    """The spans for `lowered`, the lowercased `data[window:window + len(lowered)]`, which
    holds texts beginning at `starts` (offsets in `lowered`)."""
    found: list[list[list[Span]]] = [[[], [], [], []] for _ in starts]  # per text, per rule
    for rule, regex in enumerate((_PASSWORD_NAME, _SECRET_NAME)):
        for name in regex.finditer(lowered):
            text = _text_of(starts, name.start())
            kind = "password" if rule == 0 else "secret"
            _add_assignment(found[text][rule], data, lowered, window, starts[text], name, kind)
    for name in _K_SCAN.finditer(lowered):
        text = _text_of(starts, name.start())
        if name.start("flag") != -1:
            flagged.add(text)
        elif name.start("token") != -1:
            _add_assignment(found[text][2], data, lowered, window, starts[text], name, "token")
        else:
            owner = _KEY_OWNER.search(lowered, max(0, name.start() - 8), name.start())
            assert owner is not None  # the pattern's look-behind found one
            kind = "api-key" if owner.group(1) == b"api" else "secret-key"
            _add_assignment(found[text][3], data, lowered, window, starts[text], name, kind)
    return [[span for rule in text for span in rule] for text in found]


def _add_assignment(
    spans: list[Span],
    data: bytes,
    lowered: bytes,
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
        if not _value_is_secret(value, quoted=group == "qval"):
            return
        before = lowered[max(text_start, name.start() - 26) : name.start()]
        if b"aws" in before and _AWS_SECRET_VALUE.fullmatch(value):
            kind = "aws-secret-key"
    start, end = match.span(group)
    spans.append((start, end, kind))


def _mask(data: bytes, spans: list[Span]) -> tuple[bytes, dict[str, int]]:
    if not spans:
        return data, {}
    spans.sort(key=lambda span: (span[0], -span[1]))
    counts: Counter[str] = Counter()
    pieces: list[bytes] = []
    position = 0
    for start, end, kind in spans:
        if start < position:
            continue  # inside a span already masked (a JWT inside a masked assignment)
        pieces.append(data[position:start])
        pieces.append(f"[REDACTED:{kind}]".encode("ascii"))
        counts[kind] += 1
        position = end
    pieces.append(data[position:])
    return b"".join(pieces), dict(counts)


def mask_secrets(data: bytes) -> tuple[bytes, dict[str, int]]:
    """Return UTF-8 `data` with each secret-looking value replaced by `[REDACTED:<kind>]`, and
    how many of each kind were masked (empty, and `data` itself, when nothing was).

    Only the value is replaced; names, quotes and the rest of the text are kept byte for byte.
    Masks fall on character boundaries, so valid UTF-8 stays valid.
    """
    return _mask(data, _spans(data, (0,))[0])


# Texts masked together are joined by this: its newline ends a text's last line as the end
# of the text would, and NUL, in none of the rules' character classes, stops a match there.
_JOINT = b"\n\0"


def mask_secrets_many(texts: Sequence[bytes]) -> list[tuple[bytes, dict[str, int]]]:
    """`mask_secrets` of each of `texts`, with the same results, but scanned together: one
    pass of each rule over many small files costs far less than one per file.

    A text that ends in a bare "\\r" (which the joint's newline would complete) or needs more
    than one window is masked on its own."""
    results: list[tuple[bytes, dict[str, int]] | None] = [None] * len(texts)
    joined: list[bytes] = []
    owners: list[int] = []  # the index in `texts` of each text in `joined`
    for index, text in enumerate(texts):
        if len(text) > WINDOW_BYTES or text.endswith(b"\r"):
            results[index] = mask_secrets(text)
        else:
            joined.append(text)
            owners.append(index)
    if joined:
        data = _JOINT.join(joined)
        starts = list(accumulate((len(t) + len(_JOINT) for t in joined[:-1]), initial=0))
        per_text = _spans(data, starts)
        for position, (text, spans) in enumerate(zip(joined, per_text)):
            base = starts[position]
            local = [(start - base, end - base, kind) for start, end, kind in spans]
            results[owners[position]] = _mask(text, local)
    return results  # type: ignore[return-value]  # every index is set by now


__all__ = ["is_secret_file", "mask_secrets", "mask_secrets_many"]
