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

names.py holds the file-name rules, tokens.py and assignments.py the value rules (each
with its own prefilter patterns), values.py what makes a value a secret, prefilter.py the
Hyperscan pass, spans.py texts joined for one scan; the masking itself is here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import accumulate

from rlm_tui.context.multiscan import MultiScanner
from rlm_tui.context.secrets.assignments import assignment_spans
from rlm_tui.context.secrets.names import is_secret_file
from rlm_tui.context.secrets.prefilter import PATTERNS, cache_dir, prefiltered_spans
from rlm_tui.context.secrets.spans import JOINT, Span, end_of, text_of
from rlm_tui.context.secrets.tokens import (
    EVERYWHERE_TOKEN_RULES,
    FLAGGED_TOKEN_RULES,
    token_spans,
)
from rlm_tui.context.windows import WINDOW_BYTES

# A module attribute, read at each call: tests and the bench set it to None to mask with `re`
# alone, as where Hyperscan is missing.
_PREFILTER: MultiScanner | None = MultiScanner(PATTERNS, cache_dir=cache_dir)


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


def _spans(data: bytes, starts: Sequence[int]) -> list[list[Span]]:
    """The spans to mask in each text of `data`, where texts joined by `JOINT` begin at
    `starts`: token spans first (rule by rule), then assignment spans by rule (password,
    secret, token, key). With Hyperscan, one pass finds the lines where a rule could match and
    the rules run there alone; without, every rule scans everything. The spans are the same."""
    hits = _PREFILTER.ends(data) if _PREFILTER is not None else None
    if hits is None:
        return _scanned_spans(data, starts)
    return prefiltered_spans(data, starts, hits)


def _scanned_spans(data: bytes, starts: Sequence[int]) -> list[list[Span]]:
    tokens: list[list[Span]] = [[] for _ in starts]
    flagged: set[int] = set()
    assignments = assignment_spans(data, starts, flagged)
    for span in token_spans(data, EVERYWHERE_TOKEN_RULES):
        tokens[text_of(starts, span[0])].append(span)
    for index in sorted(flagged):
        end = end_of(data, starts, index)
        tokens[index] += token_spans(data, FLAGGED_TOKEN_RULES, starts[index], end)
    return [t + a for t, a in zip(tokens, assignments)]


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
        data = JOINT.join(joined)
        starts = list(accumulate((len(t) + len(JOINT) for t in joined[:-1]), initial=0))
        per_text = _spans(data, starts)
        for position, (text, spans) in enumerate(zip(joined, per_text)):
            base = starts[position]
            local = [(start - base, end - base, kind) for start, end, kind in spans]
            results[owners[position]] = _mask(text, local)
    return results  # type: ignore[return-value]  # every index is set by now


__all__ = ["is_secret_file", "mask_secrets", "mask_secrets_many", "prefilter_runs"]
