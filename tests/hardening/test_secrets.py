"""No secret reaches a model, a transcript, the terminal or an export.

A repo is seeded with secrets the way real ones leak: secret files (.env, .env.local, SSH and
PEM keys, Google credentials) and tokens inline in source (AWS, GitHub, OpenAI, Anthropic,
Slack, Stripe, a private key block in a Python string, passwords in YAML and INI); the host
has OPENAI_API_KEY and ANTHROPIC_API_KEY set to canaries. A scripted session then does its
worst from the REPL: prints `context.text`, greps it for key|token|password|secret, asks
for the secret files by name, sends every file (and the whole text) to sub-calls and FINALs
the whole text. No seeded value may show up in any request the server received (raw body
and headers), the transcript, stdout or stderr, or any export.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_tui.lm.routes import USER_AGENT
from rlm_tui.transcript import EXPORT_FORMATS, export_transcript, read_transcript
from tests.integration.test_engine import Scripted, repl

_RNG = random.Random(1234)


def _rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


def _pem_body(lines: int = 6) -> list[str]:
    return [_rand(64) for _ in range(lines)]


# Each secret value, as a fragment that is safe to look for in JSON, HTML and Markdown
# (letters, digits and - only: nothing any format escapes).
OPENAI_DOTENV = "sk-proj-" + _rand(48)
DOTENV_PASSWORD = "Pg" + _rand(14) + "9x"
STRIPE_LOCAL = "sk_live_" + _rand(24)
ANTHROPIC_LOCAL = "sk-ant-api03-" + _rand(60)
SSH_KEY = _pem_body()
RSA_KEY = _pem_body()
PKCS8_KEY = _pem_body()
GOOGLE_CLIENT_SECRET = "GOCSPX-" + _rand(28)
GOOGLE_REFRESH = "1-0g" + _rand(40)
AWS_KEY_ID = "AKIA" + _rand(16, string.ascii_uppercase + "234567")
AWS_SECRET = _rand(40)
GITHUB_TOKEN = "ghp_" + _rand(36)
OPENAI_INLINE = "sk-" + _rand(48)
ANTHROPIC_INLINE = "sk-ant-api03-" + _rand(80)
SLACK_TOKEN = "xoxb-2048" + _rand(8, string.digits) + "-" + _rand(13, string.digits) + "-" \
    + _rand(24)
EC_KEY = _pem_body(4)
YAML_PASSWORD = "Tr0ub4d0r" + _rand(10) + "3x"
INI_PASSWORD = "hunter2" + _rand(12) + "Q7"
HOST_OPENAI_KEY = "sk-canaryhostopenai" + _rand(32)
HOST_ANTHROPIC_KEY = "sk-ant-canaryhost" + _rand(40)

SEEDED = {
    "OPENAI_API_KEY in .env": OPENAI_DOTENV,
    "a password in .env": DOTENV_PASSWORD,
    "a Stripe key in .env.local": STRIPE_LOCAL,
    "an Anthropic key in .env.local": ANTHROPIC_LOCAL,
    **{f"id_rsa line {i}": line for i, line in enumerate(SSH_KEY)},
    **{f"server.pem line {i}": line for i, line in enumerate(RSA_KEY)},
    **{f"key.pem line {i}": line for i, line in enumerate(PKCS8_KEY)},
    "client_secret in credentials.json": GOOGLE_CLIENT_SECRET,
    "refresh_token in credentials.json": GOOGLE_REFRESH,
    "an AWS access key id": AWS_KEY_ID,
    "an AWS secret access key": AWS_SECRET,
    "a GitHub token": GITHUB_TOKEN,
    "an OpenAI key in code": OPENAI_INLINE,
    "an Anthropic key in code": ANTHROPIC_INLINE,
    "a Slack bot token": SLACK_TOKEN,
    **{f"EC key line {i} in a .py string": line for i, line in enumerate(EC_KEY)},
    "a password in YAML": YAML_PASSWORD,
    "a password in INI": INI_PASSWORD,
    "the host's OPENAI_API_KEY": HOST_OPENAI_KEY,
    "the host's ANTHROPIC_API_KEY": HOST_ANTHROPIC_KEY,
}


def _pem(kind: str, body: list[str]) -> str:
    return f"-----BEGIN {kind}-----\n" + "\n".join(body) + f"\n-----END {kind}-----\n"


def seed_repo(root: Path) -> Path:
    files = {
        ".env": f"OPENAI_API_KEY={OPENAI_DOTENV}\nDB_PASSWORD={DOTENV_PASSWORD}\n",
        ".env.local": f"STRIPE_KEY={STRIPE_LOCAL}\nANTHROPIC_API_KEY={ANTHROPIC_LOCAL}\n",
        ".env.example": "OPENAI_API_KEY=your-key-here\n",
        ".ssh/id_rsa": _pem("OPENSSH PRIVATE KEY", SSH_KEY),
        "id_rsa": _pem("OPENSSH PRIVATE KEY", SSH_KEY),
        "certs/server.pem": _pem("RSA PRIVATE KEY", RSA_KEY),
        "certs/key.pem": _pem("PRIVATE KEY", PKCS8_KEY),
        "credentials.json": json.dumps({"installed": {
            "client_id": "1234-abc.apps.googleusercontent.com",
            "client_secret": GOOGLE_CLIENT_SECRET, "refresh_token": GOOGLE_REFRESH}}),
        "src/cloud.py": (f'AWS_ACCESS_KEY_ID = "{AWS_KEY_ID}"\n'
                         f'aws_secret_access_key = "{AWS_SECRET}"\n'
                         "def upload(bucket):\n    return bucket\n"),
        "src/github.py": f'TOKEN = "{GITHUB_TOKEN}"\n\ndef repos():\n    return []\n',
        "src/llm.py": (f'client = OpenAI(api_key="{OPENAI_INLINE}")\n'
                       f'claude = Anthropic(api_key="{ANTHROPIC_INLINE}")\n'),
        "src/slack.py": f'def notify():\n    post(token="{SLACK_TOKEN}")\n',
        "src/tls.py": f'SIGNING_KEY = """{_pem("EC PRIVATE KEY", EC_KEY)}"""\n\n'
                      "def sign(data):\n    return data\n",
        "config/app.yaml": (f'database:\n  user: app\n  password: "{YAML_PASSWORD}"\n'
                            "  host: db.internal\n"),
        "config/legacy.ini": f'[db]\npassword = "{INI_PASSWORD}"\nport = 5432\n',
        "src/app.py": "def main():\n    return 'hello'\n",
        "README.md": "# app\nSays hello. Keys live in .env (never committed).\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


ROOTS = [
    repl("print(context.text)"),
    repl("import re\n"
         "hits = [line for line in context.text.splitlines()\n"
         "        if re.search(r'key|token|password|secret', line, re.I)]\n"
         "print(len(hits))\nfor line in hits:\n    print(line)"),
    repl("for name in ['.env', '.env.local', 'id_rsa', '.ssh/id_rsa', 'certs/server.pem',\n"
         "             'certs/key.pem', 'credentials.json']:\n"
         "    try:\n        print(name, context[name])\n"
         "    except Exception as exc:\n        print(name, 'not there:', exc)"),
    repl("names = sorted(context)\n"
         "answers = llm_query_batched([n + ':\\n' + context[n] for n in names])\n"
         "whole = llm_query('Find every secret in this:\\n' + context.text)\n"
         "print(names)"),
    repl("FINAL(context.text + '\\n'.join(answers) + whole)"),
]


def echo(prompt: str) -> str:
    """A sub-model that repeats what it was sent: anything that got through comes back."""
    return "You sent:\n" + prompt


@pytest.fixture(scope="module", params=["auto", "litellm"])
def secrets_run(request, tmp_path_factory, _openai_server_process_wide):
    """The run, once over each transport (the litellm path is the one that could pick up the
    host's OPENAI_API_KEY by itself)."""
    server = _openai_server_process_wide
    server.reset()
    tmp = tmp_path_factory.mktemp("secrets")
    repo = seed_repo(tmp / "repo")
    transcript = tmp / "t.jsonl"
    script = Scripted(list(ROOTS), sub=echo)
    server.responder = script
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLM_TUI_")}
    env.update(OPENAI_API_KEY=HOST_OPENAI_KEY, ANTHROPIC_API_KEY=HOST_ANTHROPIC_KEY,
               XDG_CONFIG_HOME=str(tmp / "config"), RLM_TUI_TRANSPORT=request.param)
    done = subprocess.run(
        [sys.executable, "-m", "rlm_tui", "run", str(repo), "-q", "List every key.",
         "--model", "openai/root", "--sub-model", "openai/sub", "--api-base", server.base_url,
         "--transcript", str(transcript)],
        capture_output=True, text=True, env=env, timeout=120)
    requests = server.requests
    server.reset()
    went_direct = {r.headers.get("User-Agent") == USER_AGENT for r in requests}
    assert went_direct == {request.param == "auto"}
    return {"done": done, "requests": requests, "transcript": transcript, "script": script,
            "repo": repo}


def leaks(text: str) -> list[str]:
    return [label for label, value in SEEDED.items() if value in text]


def test_the_run_did_its_worst_and_answered(secrets_run):
    done = secrets_run["done"]
    assert done.returncode == 0, done.stderr
    script = secrets_run["script"]
    assert len(script.root_requests) == len(ROOTS)
    outputs = [r["messages"][-1]["content"] for r in script.root_requests[1:]]
    assert "==> src/app.py <==" in outputs[0]  # context.text was printed
    assert "[REDACTED:password]" in outputs[1]  # the grep found the masked lines
    assert "credentials.json not there" in outputs[2]  # secret files are not in the context
    assert "Error" not in outputs[2] and "Error" not in outputs[3]
    # The files themselves went out, masked where they hold secrets.
    sent = "".join(r.raw_body for r in secrets_run["requests"])
    assert "def main()" in sent and "db.internal" in sent
    assert "[REDACTED:" in sent
    assert len(script.sub_prompts) > 5


def test_no_secret_reaches_the_server(secrets_run):
    for request in secrets_run["requests"]:
        assert leaks(request.raw_body) == [], request.path
        assert leaks(json.dumps(request.headers)) == [], request.headers


def test_no_secret_reaches_the_transcript_or_the_terminal(secrets_run):
    assert leaks(secrets_run["transcript"].read_text()) == []
    assert leaks(secrets_run["done"].stdout) == []
    assert leaks(secrets_run["done"].stderr) == []


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_no_secret_reaches_an_export(secrets_run, fmt):
    transcript = read_transcript(secrets_run["transcript"])
    assert leaks(export_transcript(transcript, fmt)) == []


# Shapes of secret the scanner missed when this suite was written (and knows since).
MISSED_SHAPES = {
    "url-credentials": ("settings.py",
                        'DATABASE_URL = "postgres://app:{value}@db.internal:5432/prod"\n'),
    "bearer-token": ("client.py", 'HEADERS = {{"Authorization": "Bearer {value}"}}\n'),
    "curl-basic-auth": ("deploy.sh", "curl -u admin:{value} https://ci.internal/api\n"),
}


@pytest.mark.parametrize("shape", sorted(MISSED_SHAPES))
def test_secret_shapes_the_scanner_once_missed_are_masked(tmp_path, shape):
    from rlm_tui.context.loader import load_context

    value = "Zq8" + _rand(20) + "7w"
    name, template = MISSED_SHAPES[shape]
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / name).write_text(template.format(value=value))
    pack = load_context(tmp_path / "repo", tmp_path / "pack")
    assert value.encode() not in pack.blob_path.read_bytes()
