"""Masking with Hyperscan finding the lines to check gives exactly what scanning everything with
`re` gives: on generated texts that put every rule's pieces next to each other, and where
Hyperscan is missing."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from rlm_tui.context import multiscan, secrets
from rlm_tui.context.secrets import (
    assignments,
    mask_secrets,
    mask_secrets_many,
    prefilter,
    tokens,
)

from .conftest import write

# Fake values, assembled so that this file holds no whole token.
TOKENS = [
    "AKIA" + "Q3EGRZLMB7XK4T2N",
    "AKIA" + "ABCDEFGHIJKLMNOP",  # letters alone: a value that hides it is no secret by itself
    "AIza" + "SyD8x7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Kg0Pq",
    "ghp_" + "R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12",
    "github_pat_" + "11ABCDEFG0a1b2c3d4e5f6_g7h8i9j0k1l2m3n4o5p6q7r8s9",
    "sk-proj-" + "Xy7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Kg0Ps",
    "sk-ant-api03-" + "Tq8Wm3Xr7Ly2Kp6Vn1Bz5Hc9Jd4Fg0Se",
    "sk_live_" + "abcdefghijklmnopqrst",
    "rk_test_" + "9fGh2Jk4Lm6Np8Qr0St2Uv4W",
    "xoxb-" + "123456789012-AbCdEfGhIjKl",
    "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".SflKxwRJSMeKKF2QT4fwpMeJf36P",
    "task-abcdefghijklmnopqrstuvwxyz",
]
NAMES = [
    "password", "PASSWD", "db_passphrase", "secret", "client_secret", "token", "auth_token",
    "api_key", "apiKey", "ACCESS-KEY", "private_key", "secret_key", "aws_secret_access_key",
    "tokenizer", "max_tokens", "key", "pass", "private key",
]
SEPARATORS = [" = ", ": ", "=", " := ", " => ", " == ", '": "', "': '", ": str = ", "] = ", " "]
VALUES = [
    "hunter2hunter2", "S3cr3t!Passw0rd", "a8Fj2kLm9QrT", "NextToken", "self.token",
    "os.environ['X']", "${DB_PASSWORD}", "<your-key>", "changeme", "abc def ghi", "x1",
    "9f8e7d6c5b4a39281706", "k9Zq2VbT7xLmN4pR8sW1yE3uH6jC0dFgA5oI2eQx", "a--b-c.d",
    "bearer", "__init__", "1abc_def2", "",
]
PIECES = [
    "postgres://app:Zq8x7Lm2@db:5432/x", "https://user:password@h.test", "redis://:p4ss@c",
    "http://localhost:8080/a@b", "://a:b:c@d", "Bearer 9f8e7d6c5b4a3928", "bearer abcdefghij",
    "Authorization: Basic dXNlcjpwYXNz", "authorization=Token abcd1234efgh",
    "curl -u admin:Zq8x7Lm2 https://x", "curl -s --user=a:$PW x", "curl -u root:root",
    "-----BEGIN RSA " + "PRIVATE KEY-----", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePz",
    "-----END RSA " + "PRIVATE KEY-----", "# aws",
    "-----BEGIN " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END " + "PRIVATE KEY-----",
    "-----BEGIN " + "PRIVATE KEY-----\n  MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lg\n",  # cut short
    "aws", "api_", "\t", ",", ";", "//", "#",
    "é", "日本", "\x00",
]
QUOTES = ["", '"', "'", "`"]
ENDS = ["\n", "\n", "\n", "\r\n", "\r", " ", ""]


def _line(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.45:
            quote = rng.choice(QUOTES)
            value = rng.choice(VALUES + TOKENS + PIECES)
            parts.append(rng.choice(NAMES) + rng.choice(SEPARATORS) + quote + value + quote)
        elif roll < 0.7:
            parts.append(rng.choice(TOKENS))
        else:
            parts.append(rng.choice(PIECES))
    return rng.choice(["", " ", "x"]).join(parts) + rng.choice(ENDS)


def _texts(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    return [
        "".join(_line(rng) for _ in range(rng.randint(0, 6))).encode("utf-8")
        for _ in range(count)
    ]


def _without_hyperscan(monkeypatch: pytest.MonkeyPatch, action):
    with monkeypatch.context() as patch:
        patch.setattr(secrets, "_PREFILTER", None)
        return action()


@pytest.fixture(autouse=True)
def hyperscan_here():
    assert secrets.prefilter_runs(compile_now=True)  # a wheel installs on every CI machine


@pytest.mark.parametrize("seed", range(4))
def test_generated_texts_masked_together_are_masked_the_same(seed, monkeypatch):
    texts = _texts(seed, 600)
    fast = mask_secrets_many(texts)
    assert fast == _without_hyperscan(monkeypatch, lambda: mask_secrets_many(texts))
    assert sum(len(counts) > 0 for _, counts in fast) > 300  # the texts do hold secrets
    kinds = {kind for _, counts in fast for kind in counts}
    assert {"url-password", "bearer-token", "curl-password", "private-key", "jwt"} <= kinds


@pytest.mark.parametrize("seed", range(4, 6))
def test_generated_texts_masked_alone_are_masked_the_same(seed, monkeypatch):
    for text in _texts(seed, 300):
        expected = _without_hyperscan(monkeypatch, lambda: mask_secrets(text))
        assert mask_secrets(text) == expected, text


def test_a_huge_text_is_masked_the_same(monkeypatch):
    # Over the window size: the `re` path lowercases it a window at a time.
    text = b"".join(_texts(9, 2000)) * 40
    assert len(text) > secrets.WINDOW_BYTES
    assert mask_secrets(text) == _without_hyperscan(monkeypatch, lambda: mask_secrets(text))


def test_every_rule_brings_its_own_prefilter_patterns():
    # The prefilter's table is made of the rules' own patterns: none is left out of it.
    in_table = {rule for _, _, rule in prefilter.PREFILTER_TABLE}
    assert in_table == {*tokens.TOKEN_RULES, *assignments.ALL_NAME_RULES}
    assert all(rule.prefilter for rule in in_table)
    table = prefilter.PREFILTER_TABLE
    assert prefilter.PATTERNS == [(pattern, caseless) for pattern, caseless, _ in table]


def test_the_aws_hint_may_sit_on_the_line_before(monkeypatch):
    text = b'# aws\nsecret_key = "k9Zq2VbT7xLmN4pR8sW1yE3uH6jC0dFgA5oI2eQx"\n'
    assert mask_secrets(text)[1] == {"aws-secret-key": 1}
    assert _without_hyperscan(monkeypatch, lambda: mask_secrets(text))[1] == {"aws-secret-key": 1}


def test_without_hyperscan_the_scanner_says_so_and_loading_still_masks(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(multiscan, "hyperscan", None)
    scanner = multiscan.MultiScanner([(b"abc", False)])
    assert scanner.ends(b"xabcx") is None and not scanner.available
    assert not scanner.compile_in_background()
    monkeypatch.setattr(secrets, "_PREFILTER", scanner)
    assert not secrets.prefilter_runs()
    from rlm_tui.context.loader import load_context

    write(tmp_path / "repo", {"a.py": 'password = "hunter2hunter2"\n'})
    pack = load_context(tmp_path / "repo", tmp_path / "pack")
    assert pack.read_text("a.py") == 'password = "[REDACTED:password]"\n'


def test_a_pattern_hyperscan_refuses_means_re_alone(monkeypatch):
    scanner = multiscan.MultiScanner([(b"(?<=x)y", False)])  # look-behind: not supported
    assert scanner.ends(b"xy") is None and not scanner.available


def test_the_scanner_reports_every_pattern_it_matches():
    scanner = multiscan.MultiScanner([(b"ab", False), (b"CD", True)])
    assert sorted(scanner.ends(b"ab cd AB Cd")) == [(0, 2), (1, 5), (1, 11)]


def test_patterns_compiled_in_one_process_serve_another_as_they_are():
    compiled = multiscan.MultiScanner([(b"ab", False), (b"CD", True)])
    data = compiled.serialized()
    assert data is not None
    fresh = multiscan.MultiScanner([(b"ab", False), (b"CD", True)])
    assert fresh.adopt(data)
    assert sorted(fresh.ends(b"ab cd AB Cd")) == [(0, 2), (1, 5), (1, 11)]
    # Bytes of other patterns, or no database at all, are refused; the scanner compiles its own.
    other = multiscan.MultiScanner([(b"ab", False)])
    assert not other.adopt(data)
    assert not other.adopt(data[:40])
    assert not other.adopt(b"")
    assert sorted(other.ends(b"ab cd")) == [(0, 2)]


def test_damaged_compiled_patterns_are_refused():
    patterns = [(b"ab", False)]
    data = multiscan.MultiScanner(patterns).serialized()
    assert data is not None
    damaged = data[:32] + bytes(len(data) - 32)  # the right fingerprint, the database zeroed
    scanner = multiscan.MultiScanner(patterns)
    assert not scanner.adopt(damaged)
    assert scanner.ends(b"xabx") == [(0, 3)]  # compiled here instead


def counting_compiles(monkeypatch) -> list:
    compiles: list = []
    database = multiscan.hyperscan.Database

    class Counted(database):  # type: ignore[misc, valid-type]
        def compile(self, *args, **kwargs):
            compiles.append(1)
            return super().compile(*args, **kwargs)

    monkeypatch.setattr(multiscan.hyperscan, "Database", Counted)
    return compiles


def test_compiled_patterns_are_cached_for_the_next_process(tmp_path: Path, monkeypatch):
    compiles = counting_compiles(monkeypatch)
    patterns = [(b"ab", False), (b"CD", True)]
    cache = tmp_path / "cache"
    first = multiscan.MultiScanner(patterns, cache_dir=lambda: cache)
    assert sorted(first.ends(b"ab cd")) == [(0, 2), (1, 5)]
    assert len(compiles) == 1
    (written,) = cache.iterdir()
    assert written.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700
    later = multiscan.MultiScanner(patterns, cache_dir=lambda: cache)
    assert sorted(later.ends(b"ab cd")) == [(0, 2), (1, 5)]
    assert len(compiles) == 1  # loaded, not compiled
    # Other patterns have a file of their own.
    other = multiscan.MultiScanner([(b"ab", False)], cache_dir=lambda: cache)
    assert other.ends(b"ab cd") == [(0, 2)]
    assert len(compiles) == 2 and len(list(cache.iterdir())) == 2


@pytest.mark.parametrize(
    "spoil", ["damaged", "truncated", "writable by others", "a symlink", "a FIFO"]
)
def test_a_cache_file_that_cannot_be_trusted_is_compiled_anew(tmp_path: Path, monkeypatch, spoil):
    patterns = [(b"ab", False)]
    cache = tmp_path / "cache"
    assert multiscan.MultiScanner(patterns, cache_dir=lambda: cache).available
    (path,) = cache.iterdir()
    data = path.read_bytes()
    if spoil == "damaged":
        path.write_bytes(data[:32] + bytes(len(data) - 32))
    elif spoil == "truncated":
        path.write_bytes(data[:40])
    elif spoil == "writable by others":
        path.chmod(0o666)
    elif spoil == "a symlink":
        (tmp_path / "elsewhere").write_bytes(data)
        path.unlink()
        path.symlink_to(tmp_path / "elsewhere")
    else:  # opened for reading, a FIFO would wait for a writer forever
        path.unlink()
        os.mkfifo(path)
    compiles = counting_compiles(monkeypatch)
    scanner = multiscan.MultiScanner(patterns, cache_dir=lambda: cache)
    assert scanner.ends(b"xabx") == [(0, 3)]
    assert len(compiles) == 1
    assert path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o777 == 0o600
    assert path.read_bytes() == data or spoil != "writable by others"


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    scanner = multiscan.MultiScanner([(b"ab", False)], cache_dir=lambda: blocked / "cache")
    assert scanner.ends(b"ab") == [(0, 2)]

    def no_home() -> Path:
        raise RuntimeError("no home directory")

    assert multiscan.MultiScanner([(b"ab", False)], cache_dir=no_home).ends(b"ab") == [(0, 2)]


def test_writing_a_cache_file_keeps_only_the_newest_few(tmp_path: Path, monkeypatch):
    # A file per machine name: a container, named anew each run, would add one every launch.
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    for age in range(12):
        old = cache / f"multiscan-{age:032x}.hsdb"
        old.write_bytes(b"old")
        os.utime(old, ns=(10**18 - age * 10**9,) * 2)  # 0 the newest
    unrelated = cache / "something-else.txt"
    unrelated.write_text("kept")
    scanner = multiscan.MultiScanner([(b"ab", False)], cache_dir=lambda: cache)
    assert scanner.ends(b"ab") == [(0, 2)]
    names = sorted(p.name for p in cache.iterdir())
    kept = [f"multiscan-{age:032x}.hsdb" for age in range(multiscan.KEEP_CACHE_FILES - 1)]
    written = scanner._cache_file().name
    assert names == sorted([*kept, written, "something-else.txt"])
    # And the file written is the one the next process loads.
    compiles = counting_compiles(monkeypatch)
    assert multiscan.MultiScanner([(b"ab", False)], cache_dir=lambda: cache).available
    assert compiles == []


def test_a_cache_file_loaded_counts_as_used_for_pruning(tmp_path: Path):
    cache = tmp_path / "cache"
    assert multiscan.MultiScanner([(b"ab", False)], cache_dir=lambda: cache).available
    (ours,) = cache.iterdir()
    os.utime(ours, ns=(10**18, 10**18))  # written long ago
    assert multiscan.MultiScanner([(b"ab", False)], cache_dir=lambda: cache).available
    assert ours.stat().st_mtime_ns > 10**18  # loaded just now
