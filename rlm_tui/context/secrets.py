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
   Slack, Google and Stripe keys, JWTs, the password in `scheme://user:PASSWORD@host`, in
   `curl -u user:PASSWORD` (or `--user`), the token after `Bearer`, the value of an
   `Authorization` header, and values assigned to names ending in password,
   passwd, passphrase, secret, token, api key, access key, secret key, private key or auth
   key (only the value is masked; the name stays). Assigned values that are clearly not
   secrets are left alone, to keep false positives low on ordinary code: references
   (`os.environ["PW"]`, `self.token`, `settings.SECRET_KEY`, bare identifiers without
   digits), empty or short strings, placeholders (`${VAR}`, `{{ var }}`, `<your-key>`,
   `xxx`, `changeme`, `***`), prose (contains spaces), paths and URLs, special tokens such as
   `"[PAD]"` or `"<s>"`, word-only values such as `"bearer"` or `"pad_token"`, and
   ENV_VAR_NAMES. The cost of that choice: a password made only of letters and `_.-` is not
   masked.

Speed (it runs over every loaded byte): where Hyperscan is installed (multiscan.py), one
pass of it finds the lines where any rule could match (a superset: each rule's regex
without its look-arounds), and the rules run on those lines alone: about 0.17 s per 100 MB
of code on one core, most of it in Hyperscan, which lets go of the GIL. Without it, every
rule scans every byte with `re`, which searches fast only for a pattern that starts with a
literal (a combined alternation is scanned byte by byte, 10-20x slower): so each scan
starts with one literal, several rules share a scan where they share a rare letter, and
look-behinds and look-aheads reject the common non-secrets (`key =`, `token = x`) inside
`re`. Eleven scans plus a lowercased copy per text, about 0.65 s per 100 MB. Both ways give
the same masks (tests/unit/context/test_secrets_prefilter.py). `mask_secrets_many` scans
many small files joined, once, not once per file.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence, Set
from itertools import accumulate
from pathlib import Path
from typing import Callable, NamedTuple

from rlm_tui.context.multiscan import MultiScanner
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


def _judge_url(match: re.Match[bytes]) -> Span | None:
    if not _credential_is_real(match.group("secret").decode("utf-8", "replace")):
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
    if not _value_is_secret(match.group("secret").decode("ascii"), quoted=False):
        return None  # "Bearer authentication", "Bearer YOUR_TOKEN", "bearer self.token"
    return match.start("secret"), match.end("secret"), "bearer-token"


def _judge_authorization(match: re.Match[bytes]) -> Span | None:
    if not _led_by(match, b"Aa"):
        return None
    value = match.group("secret").decode("ascii")
    # After "Basic" or "Token" the value is a credential (base64 of "user:password" may be
    # letters only); a bare value must look like a secret, not `authorization = header.value`.
    if match.group("scheme") is not None:
        real = _credential_is_real(value)
    else:
        real = _value_is_secret(value, quoted=False)
    return (match.start("secret"), match.end("secret"), "authorization") if real else None


def _judge_curl(match: re.Match[bytes]) -> Span | None:
    if not _starts_word(match.string, match.start()):
        return None
    if not _credential_is_real(match.group("secret").decode("utf-8", "replace")):
        return None
    return match.start("secret"), match.end("secret"), "curl-password"


_URL_CREDENTIALS = _TokenRule(
    # scheme://user:PASSWORD@host (the user may be empty: redis://:PASSWORD@host).
    re.compile(rb"://[^\s/?#@:'\"<>]{0,100}:(?P<secret>[^\s/?#@'\"<>]{1,200})@"),
    _judge_url,
)
_B64_TOKEN = rb"[A-Za-z0-9\-._~+/]"  # RFC 6750's b64token: bearer tokens, base64
_BEARER = _TokenRule(
    re.compile(rb"earer[ \t]+(?P<secret>" + _B64_TOKEN + rb"{8,}=*)"), _judge_bearer
)
_AUTHORIZATION = _TokenRule(
    # An Authorization header's value, in HTTP, curl -H, a dict or a config; "Bearer ..."
    # is _BEARER's.
    re.compile(
        rb"uthorization[\"']?[ \t]*[:=,][ \t]*[\"']?(?:(?P<scheme>Basic|Token|token)[ \t]+)?"
        rb"(?P<secret>" + _B64_TOKEN + rb"{8,}=*)"
    ),
    _judge_authorization,
)
_CURL_USER = _TokenRule(
    # curl -u user:PASSWORD, --user user:PASSWORD, --user=user:PASSWORD.
    re.compile(
        rb"curl[ \t](?:[^\r\n]{0,500}?[ \t])?(?:-u|--user)(?:[ \t]+|=)[\"']?[^\s:\"']{0,100}:"
        rb"(?P<secret>[^\s\"']{1,200})"
    ),
    _judge_curl,
)
# Two rules need a "k" ("PRIVATE KEY", "sk-", "sk_", "rk_"), as do the names "token" and
# "key": one scan of the lowercased text for "k" finds those names and flags the texts where
# these two rules could match; only those are scanned for them.
_FLAGGED_TOKEN_RULES = (_PRIVATE_KEY, _SK)
_EVERYWHERE_TOKEN_RULES = (
    _AWS_OR_GOOGLE,
    _GITHUB,
    _SLACK,
    _JWT,
    _URL_CREDENTIALS,
    _BEARER,
    _AUTHORIZATION,
    _CURL_USER,
)
_TOKEN_RULES: tuple[_TokenRule, ...] = (*_FLAGGED_TOKEN_RULES, *_EVERYWHERE_TOKEN_RULES)

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


_CREDENTIAL_PLACEHOLDERS = _PLACEHOLDERS | {"pass", "pwd", "pw", "user", "username"}


def _credential_is_real(value: str) -> bool:
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



def _token_spans(
    data: bytes,
    rules: Sequence[_TokenRule] = _TOKEN_RULES,
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


def _specific_kind(value: bytes) -> str | None:
    """The token kind an assigned value holds (an `api_key = "sk-..."`), if any."""
    for _, _, kind in _token_spans(value):
        return kind
    return None


def _spans(data: bytes, starts: Sequence[int]) -> list[list[Span]]:
    """The spans to mask in each text of `data`, where texts joined by `_JOINT` begin at
    `starts`: token spans first (rule by rule), then assignment spans by rule (password,
    secret, token, key). With Hyperscan, one pass finds the lines where a rule could match and
    the rules run there alone; without, every rule scans everything. The spans are the same."""
    hits = _PREFILTER.ends(data) if _PREFILTER is not None else None
    if hits is None:
        return _scanned_spans(data, starts)
    return _prefiltered_spans(data, starts, hits)


def _scanned_spans(data: bytes, starts: Sequence[int]) -> list[list[Span]]:
    tokens: list[list[Span]] = [[] for _ in starts]
    flagged: set[int] = set()
    assignments = _assignment_spans(data, starts, flagged)
    for span in _token_spans(data, _EVERYWHERE_TOKEN_RULES):
        tokens[_text_of(starts, span[0])].append(span)
    for index in sorted(flagged):
        end = _end_of(data, starts, index)
        tokens[index] += _token_spans(data, _FLAGGED_TOKEN_RULES, starts[index], end)
    return [t + a for t, a in zip(tokens, assignments)]


def _end_of(data: bytes, starts: Sequence[int], index: int) -> int:
    """Where text `index` of `data` ends (before the joint that follows it)."""
    return starts[index + 1] - len(_JOINT) if index + 1 < len(starts) else len(data)


def _text_of(starts: Sequence[int], position: int) -> int:
    return bisect_right(starts, position) - 1


# The prefilter: necessary conditions of the rules, in Hyperscan's syntax, found in one pass.
# Every rule but the private key block matches within one line, and only where one of these
# patterns matches on that line; so the rules run only on those lines (and the private key
# rule on the texts where its header appears), and find there what they find scanning
# everything. Each pattern is its rule's regex without look-arounds and length caps, plus, for
# assigned values, what `_value_is_secret` demands: a value of letters and "_" alone is never
# a secret (a token inside one is its own pattern's match).
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
# Each pattern, with what runs on a line where it matches: a token rule, or one of the name
# scans (on a line where a token rule's pattern matches, every name scan runs too, as a
# value of letters alone may hold that token).
_PASSWORD_SCAN, _SECRET_SCAN, _K_NAME_SCAN = "password", "secret", "k"
_ALL_NAME_SCANS = frozenset({_PASSWORD_SCAN, _SECRET_SCAN, _K_NAME_SCAN})
_PREFILTER_TABLE: tuple[tuple[bytes, bool, _TokenRule | str], ...] = (  # pattern, ignores case
    (rb"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY", False, _PRIVATE_KEY),
    (rb"pass(?:w(?:or)?d|phrase)" + _HS_TAIL, True, _PASSWORD_SCAN),
    (rb"secret" + _HS_TAIL, True, _SECRET_SCAN),
    (rb"token" + _HS_TAIL, True, _K_NAME_SCAN),
    (rb"(?:" + b"|".join(_KEY_OWNERS) + rb")[_\-]?key" + _HS_TAIL, True, _K_NAME_SCAN),
    (rb"A(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}", False, _AWS_OR_GOOGLE),
    (rb"AIza[0-9A-Za-z_\-]{35}", False, _AWS_OR_GOOGLE),
    (rb"gh[pousr]_[A-Za-z0-9]{36}", False, _GITHUB),
    (rb"github_pat_[A-Za-z0-9_]{22}", False, _GITHUB),
    (rb"[sr]k(?:-[A-Za-z0-9_\-]{20}|_(?:live|test)_[0-9A-Za-z]{16})", False, _SK),
    (rb"xox[baprs]-[A-Za-z0-9\-]{10}", False, _SLACK),
    (rb"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8}", False, _JWT),
    (rb"://[^\s/?#@:'\"<>]*:[^\s/?#@'\"<>]+@", False, _URL_CREDENTIALS),
    (rb"[Bb]earer[ \t]+" + _B64_TOKEN + rb"{8}", False, _BEARER),
    (
        rb"[Aa]uthorization[\"']?[ \t]*[:=,][ \t]*[\"']?(?:(?:Basic|Token|token)[ \t]+)?"
        + _B64_TOKEN + rb"{8}",
        False,
        _AUTHORIZATION,
    ),
    (
        rb"curl[ \t](?:[^\r\n]*[ \t])?(?:-u|--user)(?:[ \t]+|=)[\"']?[^\s:\"']*:[^\s\"']",
        False,
        _CURL_USER,
    ),
)


def _prefilter_cache_dir() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("rlm-tui")


_PREFILTER: MultiScanner | None = MultiScanner(
    [row[:2] for row in _PREFILTER_TABLE], cache_dir=_prefilter_cache_dir
)


def prefilter_runs(compile_now: bool = False) -> bool:
    """Whether masking finds its lines with Hyperscan here (see `_spans`). Compiling its
    patterns takes about 40 ms: with `compile_now` false, that starts in a thread (it lets go
    of the GIL), so that a load can list its files meanwhile."""
    if _PREFILTER is None:
        return False
    if compile_now:
        return _PREFILTER.available
    return _PREFILTER.compile_in_background()


def prefilter_database() -> bytes | None:
    """The prefilter's patterns compiled, as bytes for `adopt_prefilter_database` in another
    process (a load helper); None where masking does not use Hyperscan."""
    return None if _PREFILTER is None else _PREFILTER.serialized()


def adopt_prefilter_database(data: bytes | None) -> bool:
    """Use the prefilter compiled by another process (`prefilter_database`) instead of
    compiling it here; False if it cannot be used (it then compiles on first use)."""
    return data is not None and _PREFILTER is not None and _PREFILTER.adopt(data)


_LINE_TOKEN_RULES = (*_EVERYWHERE_TOKEN_RULES, _SK)  # as ordered in _scanned_spans, less PK


def _prefiltered_spans(
    data: bytes, starts: Sequence[int], hits: Sequence[tuple[int, int]]
) -> list[list[Span]]:
    """`_scanned_spans`, given where the prefilter's patterns matched in `data`."""
    lines: dict[tuple[int, int], set[_TokenRule | str]] = {}  # whole lines, in one text each
    key_blocks: set[int] = set()  # texts that hold a private key header
    for pattern, end in hits:
        text = _text_of(starts, end - 1)  # no pattern matches a joint's newline
        runs = _PREFILTER_TABLE[pattern][2]
        if runs is _PRIVATE_KEY:
            key_blocks.add(text)
            continue
        first = max(data.rfind(b"\n", 0, end - 1) + 1, starts[text])
        newline = data.find(b"\n", end - 1)
        lines.setdefault((first, len(data) if newline == -1 else newline + 1), set()).add(runs)
    # Spans come line by line here, rule by rule in _scanned_spans: the same to `_mask`, which
    # sorts them, as two spans with one start and end (a JWT that is a bearer token) are on
    # one line, where the rules keep their order.
    tokens: list[list[Span]] = [[] for _ in starts]
    assignments: list[list[Span]] = [[] for _ in starts]
    for text in sorted(key_blocks):
        end = _end_of(data, starts, text)
        tokens[text] += _token_spans(data, (_PRIVATE_KEY,), starts[text], end)
    for (first, end), runs in sorted(lines.items()):
        text = _text_of(starts, first)
        rules = [rule for rule in _LINE_TOKEN_RULES if rule in runs]
        if rules:
            tokens[text] += _token_spans(data, rules, first, end)
        scans = _ALL_NAME_SCANS if rules else runs
        lowered = data[first:end].lower()
        (found,) = _assignment_rule_spans(data, lowered, first, (starts[text],), set(), scans)
        assignments[text] += [span for rule in found for span in rule]
    return [t + a for t, a in zip(tokens, assignments)]


def _assignment_spans(data: bytes, starts: Sequence[int], flagged: set[int]) -> list[list[Span]]:
    """Assignment spans per text, in rule order; adds to `flagged` the texts that the
    private key and "sk-" rules must scan."""
    if len(data) <= WINDOW_BYTES or len(starts) > 1:
        found = _assignment_rule_spans(data, data.lower(), 0, starts, flagged)
        return [[span for rule in text for span in rule] for text in found]
    # A huge text is lowercased a window at a time (all on one line is all a match needs),
    # so that it is not copied whole; lowering ASCII keeps every offset.
    spans: list[Span] = []
    for window, window_end in line_windows(data, 0, len(data)):
        lowered = data[window:window_end].lower()
        (found,) = _assignment_rule_spans(data, lowered, window, (0,), flagged)
        spans += [span for rule in found for span in rule]
    return [spans]


def _assignment_rule_spans(
    data: bytes,
    lowered: bytes,
    window: int,
    starts: Sequence[int],
    flagged: set[int],
    scans: Set[_TokenRule | str] = _ALL_NAME_SCANS,
) -> list[list[list[Span]]]:
    """The spans in `lowered`, the lowercased `data[window:window + len(lowered)]`, per text
    and per rule (password, secret, token, key), for the texts of `data` that begin at `starts`
    (offsets in `data`); adds to `flagged` the texts where a private key or "sk-" could be.
    Only the name scans in `scans` run (the others find nothing there)."""
    found: list[list[list[Span]]] = [[[], [], [], []] for _ in starts]
    for rule, regex in enumerate((_PASSWORD_NAME, _SECRET_NAME)):
        if (_PASSWORD_SCAN, _SECRET_SCAN)[rule] not in scans:
            continue
        for name in regex.finditer(lowered):
            text = _text_of(starts, window + name.start())
            kind = "password" if rule == 0 else "secret"
            _add_assignment(found[text][rule], data, window, starts[text], name, kind)
    for name in _K_SCAN.finditer(lowered) if _K_NAME_SCAN in scans else ():
        text = _text_of(starts, window + name.start())
        if name.start("flag") != -1:
            flagged.add(text)
        elif name.start("token") != -1:
            _add_assignment(found[text][2], data, window, starts[text], name, "token")
        else:
            owner = _KEY_OWNER.search(lowered, max(0, name.start() - 8), name.start())
            assert owner is not None  # the pattern's look-behind found one
            kind = "api-key" if owner.group(1) == b"api" else "secret-key"
            _add_assignment(found[text][3], data, window, starts[text], name, kind)
    return found


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
        if not _value_is_secret(value, quoted=group == "qval"):
            return
        named_at = window + name.start()
        before = data[max(text_start, named_at - 26) : named_at].lower()
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


__all__ = ["is_secret_file", "mask_secrets", "mask_secrets_many", "prefilter_runs"]
