"""Secrets never reach a model: secret files are skipped, secret-looking values masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlm_tui.context import secrets
from rlm_tui.context.secrets import is_secret_file, mask_secrets, mask_secrets_many

from .conftest import run_cli, write

# Realistic fake values, assembled at run time so that this file holds no whole token.
AWS_KEY_ID = "AKIA" + "Q3EGRZLMB7XK4T2N"
AWS_SECRET = "k9Zq2VbT7xLmN4pR8sW1" + "yE3uH6jC0dFgA5oI2eQx"
GITHUB_TOKEN = "ghp_" + "R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s12"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0a1b2c3d4e5f6_" + "g7h8i9j0k1l2m3n4o5p6q7r8s9"
OPENAI_KEY = "sk-proj-" + "Xy7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Kg0Ps"
ANTHROPIC_KEY = "sk-ant-api03-" + "Tq8Wm3Xr7Ly2Kp6Vn1Bz5Hc9Jd4Fg0Se"
SLACK_TOKEN = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
GOOGLE_KEY = "AIza" + "SyD8x7Qm2Lp9Rt4Vw8Zb3Nc6Hd1Jf5Kg0Pq"
STRIPE_KEY = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
STRIPE_RESTRICTED = "rk_live_" + "9fGh2Jk4Lm6Np8Qr0St2Uv4W"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    + ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PRIVATE_KEY = (
    "-----BEGIN RSA " + "PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
    "-----END RSA " + "PRIVATE KEY-----"
)


@pytest.fixture(autouse=True, params=["hyperscan", "re"])
def scanner(request, monkeypatch):
    """Every test runs twice: with Hyperscan finding the lines to check, and with `re` alone
    (as where no hyperscan wheel installs): the masks must be the same."""
    if request.param == "re":
        monkeypatch.setattr(secrets, "_PREFILTER", None)
    else:
        assert secrets.prefilter_runs(compile_now=True)  # installed here: the tests use it
    return request.param


def masked(text: str) -> tuple[str, dict[str, int]]:
    data, counts = mask_secrets(text.encode("utf-8"))
    return data.decode("utf-8"), counts


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        (f"key_id = {AWS_KEY_ID}\n", "key_id = [REDACTED:aws-access-key]\n", "aws-access-key"),
        (
            f'aws_secret_access_key = "{AWS_SECRET}"\n',
            'aws_secret_access_key = "[REDACTED:aws-secret-key]"\n',
            "aws-secret-key",
        ),
        (f"GH_TOKEN: {GITHUB_TOKEN}\n", "GH_TOKEN: [REDACTED:github-token]\n", "github-token"),
        (f"url = 'https://{GITHUB_PAT}@github.com'\n", None, "github-token"),
        (f"client = OpenAI(api_key='{OPENAI_KEY}')\n", None, "openai-key"),
        (f"export ANTHROPIC_API_KEY={ANTHROPIC_KEY}\n", None, "anthropic-key"),
        (f"# posted with {SLACK_TOKEN}\n", "# posted with [REDACTED:slack-token]\n", "slack-token"),
        (f'"browserKey": "{GOOGLE_KEY}"\n', None, "google-api-key"),
        (f"stripe.api_key = '{STRIPE_KEY}'\n", None, "stripe-key"),
        (f"STRIPE={STRIPE_RESTRICTED}\n", "STRIPE=[REDACTED:stripe-key]\n", "stripe-key"),
        (f"Authorization: Bearer {JWT}\n", "Authorization: Bearer [REDACTED:jwt]\n", "jwt"),
        (f"k = '''\n{PRIVATE_KEY}\n'''\n", "k = '''\n[REDACTED:private-key]\n'''\n", "private-key"),
        ('password = "S3cr3t!Passw0rd"\n', 'password = "[REDACTED:password]"\n', "password"),
        ("DB_PASSWORD=hunter2hunter2\n", "DB_PASSWORD=[REDACTED:password]\n", "password"),
        ("api_key: 9f8e7d6c5b4a39281706\n", "api_key: [REDACTED:api-key]\n", "api-key"),
        (
            '{"client_secret": "0a1b2c3d4e5f6a7b8c9d"}\n',
            '{"client_secret": "[REDACTED:secret]"}\n',
            "secret",
        ),
        ("auth_token = 'a8Fj2kLm9QrT'\n", "auth_token = '[REDACTED:token]'\n", "token"),
        (
            'SECRET_KEY: str = "django-insecure-7x#q2!v9@l3"\n',
            'SECRET_KEY: str = "[REDACTED:secret-key]"\n',
            "secret-key",
        ),
        ("conf['apiKey'] = 'Zx81kPq02Lm'\n", "conf['apiKey'] = '[REDACTED:api-key]'\n", "api-key"),
        (
            'DATABASE_URL = "postgres://app:Zq8x7Lm2@db.internal:5432/prod"\n',
            'DATABASE_URL = "postgres://app:[REDACTED:url-password]@db.internal:5432/prod"\n',
            "url-password",
        ),
        ("REDIS=redis://:p4ssW0rd@cache:6379/0\n", None, "url-password"),
        ("git clone https://oauth2:hunter2@git.corp/x.git\n", None, "url-password"),
        (
            'headers = {"Authorization": "Bearer 9f8e7d6c5b4a39281706"}\n',
            'headers = {"Authorization": "Bearer [REDACTED:bearer-token]"}\n',
            "bearer-token",
        ),
        ("-H 'authorization: bearer Zq8x7Lm2Vb4N'\n", None, "bearer-token"),
        (
            "Authorization: Basic dXNlcjpwYXNzd29yZA==\n",
            "Authorization: Basic [REDACTED:authorization]\n",
            "authorization",
        ),
        ("Authorization: token 9f8e7d6c5b4a3928\n", None, "authorization"),
        (
            "curl -u admin:Zq8x7Lm2 https://ci.internal/api\n",
            "curl -u admin:[REDACTED:curl-password] https://ci.internal/api\n",
            "curl-password",
        ),
        ("curl -sS --user=deploy:s3cret https://x.test\n", None, "curl-password"),
        ("curl -X POST --user 'ci:Zq8x7Lm2' https://x.test\n", None, "curl-password"),
    ],
)
def test_each_kind_of_inline_secret_is_masked(text: str, expected: str | None, kind: str):
    result, counts = masked(text)
    assert counts == {kind: 1}
    assert f"[REDACTED:{kind}]" in result
    if expected is not None:
        assert result == expected  # the name and the quotes stay; only the value goes


def test_the_whole_private_key_block_is_masked_even_without_its_end_line():
    truncated = PRIVATE_KEY.rsplit("\n", 1)[0] + "\n# the rest was lost\n"
    result, counts = masked(truncated)
    assert result == "[REDACTED:private-key]\n# the rest was lost\n"
    assert counts == {"private-key": 1}


@pytest.mark.parametrize(
    "line",
    [
        'password = os.environ["PW"]',
        "password = os.getenv('DB_PASSWORD')",
        "def token(self):",
        "    token = self._token",
        "api_key = settings.API_KEY",
        'password = ""',
        'password = "${DB_PASSWORD}"',
        "password: '{{ vault_password }}'",
        'api_key = "<your-key>"',
        'secret = "changeme"',
        "secret = 'xxxxxxxx'",
        'tokenizer = "bert-base-uncased"',
        "max_tokens = 4096",
        'pad_token = "[PAD]"',
        'eos_token = "</s>"',
        "password: str",
        "token: Optional[str] = None",
        'if token == "abc123def456":',
        'help="The API key to use for the request"',
        'password_hash = "pbkdf2_sha256$260000$abc"',
        'token_type = "bearer"',
        'TOKEN_ENV = "GITHUB_TOKEN"',
        'prompt = "Enter your password: "',
        "api_key: Optional. The key to use.",
        "client_secret:t.client_secret??null,scopes:t.scopes",
        'output_token: "NextToken"',
        "token = next_token",
        "sk-learn-compatible-estimators-are-fine-here",
        "the task-scheduler-abcdefghijklmnopqrstuvwxyz ran",
        'url = "postgres://user:password@localhost/db"',
        'url = f"postgres://{user}:{password}@{host}/db"',
        'DSN = "mysql://root:${MYSQL_PASSWORD}@db/app"',
        "see https://user:pass@host.test for the form",
        "DSN = 'postgresql://%(user)s:%(pw)s@%(host)s'",
        "http://localhost:8080/path@v2",
        "ssh://git@github.com:22/repo.git",
        'headers["Authorization"] = f"Bearer {token}"',
        '"Authorization": "Bearer " + token,',
        "Use the Bearer authentication scheme for this endpoint",
        "Authorization: Bearer YOUR_API_TOKEN",
        'authorization = request.headers.get("Authorization")',
        '"Authorization": api_key,',
        'curl -u "$USER:$PASSWORD" https://x.test',
        "curl -u ${CI_USER}:${CI_TOKEN} https://x.test",
        "curl -u user: https://x.test",
        "docker run -u 1000:1000 image",
        "curl --user-agent a:b https://x.test",
    ],
)
def test_ordinary_code_is_not_masked(line: str):
    result, counts = masked(line + "\n")
    assert counts == {}
    assert result == line + "\n"


def test_code_that_parses_keys_is_not_a_key():
    code = (
        'if line == "-----BEGIN RSA PRIVATE KEY-----":\n'
        "    inside = True\n"
        'elif line == "-----END RSA PRIVATE KEY-----":\n'
        "    inside = False\n"
    )
    assert masked(code) == (code, {})


def test_counts_add_up_over_a_file():
    text = f"a = '{OPENAI_KEY}'\nb = '{OPENAI_KEY}'\npassword = 'Tr0ub4dor&3'\n"
    result, counts = masked(text)
    assert counts == {"openai-key": 2, "password": 1}
    assert OPENAI_KEY not in result and "Tr0ub4dor" not in result


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.local",
        ".env.production",
        "config/.env.development",
        ".envrc",
        "certs/server.pem",
        "server.key",
        "id_rsa",
        "home/.ssh/id_ed25519",
        ".ssh/config",
        "store.p12",
        "cert.pfx",
        "release.keystore",
        "app.jks",
        ".netrc",
        ".pgpass",
        ".aws/credentials",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
        ".docker/config.json",
        "passwords.kdbx",
        "terraform.tfstate",
        "secrets.yaml",
        ".streamlit/secrets.toml",
        "client_secret_1234.json",
        "credentials.json",
    ],
)
def test_secret_files_are_recognised_by_name(path: str):
    assert is_secret_file(path)


@pytest.mark.parametrize(
    "path",
    [
        ".env.example",
        ".env.sample",
        ".env.template",
        ".envrc.example",
        "id_rsa.pub",
        ".ssh/id_ed25519.pub",
        "secrets.py",
        "src/credentials.py",
        "keys.py",
        "config.json",
        "environment.yml",
        "docs/tokens.md",
    ],
)
def test_ordinary_files_are_not_secret_files(path: str):
    assert not is_secret_file(path)


def test_loading_skips_secret_files_and_masks_the_rest(tmp_path: Path, load):
    write(
        tmp_path,
        {
            ".env": f"OPENAI_API_KEY={OPENAI_KEY}\n",
            ".env.example": f"OPENAI_API_KEY=<your-key>\nLEAKED={GITHUB_TOKEN}\n",
            "deploy/id_rsa": PRIVATE_KEY + "\n",
            "app.py": f'import os\nclient = make(api_key="{ANTHROPIC_KEY}")\n',
            "plain.py": "print('nothing secret')\n",
        },
    )
    pack = load(tmp_path)
    assert {s.path: str(s.reason) for s in pack.skipped} == {
        ".env": "secret file",
        "deploy/id_rsa": "secret file",
    }
    app = pack.entry("app.py")
    assert app.flags == ("secrets-masked",) and app.secrets_masked == 1
    assert pack.read_text("app.py") == (
        'import os\nclient = make(api_key="[REDACTED:anthropic-key]")\n'
    )
    assert app.chars == len(pack.read_text("app.py"))
    example = pack.read_text(".env.example")
    assert GITHUB_TOKEN not in example and "<your-key>" in example
    blob = pack.blob_path.read_bytes()
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, GITHUB_TOKEN, "MIIEowIBAAKCAQEA"):
        assert secret.encode() not in blob
    assert pack.entry("plain.py").flags == ()


def test_include_secrets_loads_everything_as_is(tmp_path: Path, load):
    write(tmp_path, {".env": f"KEY={OPENAI_KEY}\n", "app.py": f"k = '{OPENAI_KEY}'\n"})
    pack = load(tmp_path, include_secrets=True)
    assert pack.skipped == ()
    assert pack.read_text(".env") == f"KEY={OPENAI_KEY}\n"
    assert pack.read_text("app.py") == f"k = '{OPENAI_KEY}'\n"


def test_a_secret_file_named_directly_is_refused(tmp_path: Path, load):
    from rlm_tui.errors import InputError

    write(tmp_path, {".env": "A=1\n"})
    with pytest.raises(InputError, match="secrets file; pass --include-secrets"):
        load(tmp_path / ".env")
    assert load(tmp_path / ".env", include_secrets=True).read_text(".env") == "A=1\n"


def test_cli_include_secrets_warns_on_stderr(tmp_path: Path):
    write(tmp_path, {".env": f"KEY={OPENAI_KEY}\n", "a.py": "a = 1\n"})
    done = run_cli("context", str(tmp_path), "--include-secrets")
    assert done.returncode == 0
    assert done.stderr.startswith("rlm-tui: warning: --include-secrets")
    assert "secret file" not in done.stdout
    quiet = run_cli("context", str(tmp_path))
    assert quiet.stderr == ""
    assert "secret file" in quiet.stdout


def test_masking_texts_together_gives_what_masking_each_alone_gives():
    aws_secret_line = f'secret_key = "{AWS_SECRET}"\n'
    texts = [
        f"key_id = {AWS_KEY_ID}\n",
        f"Authorization: Bearer {JWT}",  # a token right at the end of a text
        f"{OPENAI_KEY} starts this text\n",
        "-----BEGIN RSA " + "PRIVATE KEY-----",  # a lone header: the next text is not its body
        PRIVATE_KEY.split("\n", 1)[1] + "\n",
        "aws",  # names no AWS secret in the next text
        aws_secret_line,
        "# aws\n" + aws_secret_line,
        "token = a8Fj2kLm9QrT\r",  # a bare value before a lone "\r" at the end is not a value
        "token = a8Fj2kLm9QrT\r\n",
        "api_",  # no key owner for the next text's name
        "key = 'Zx81kPq02Lm'\n",
        "",
        "plain text, nothing secret\n",
        "password = 'Tr0ub4dor&3'\n" * 3,
    ]
    expected = [mask_secrets(text.encode("utf-8")) for text in texts]
    assert mask_secrets_many([text.encode("utf-8") for text in texts]) == expected
    kinds = [counts for _, counts in expected]
    assert kinds[3:6] == [{}, {}, {}]
    assert kinds[6] == {"secret-key": 1} and kinds[7] == {"aws-secret-key": 1}
    assert kinds[8] == {} and kinds[9] == {"token": 1}
    assert kinds[10:12] == [{}, {}]


def test_the_total_cap_counts_texts_as_masked_when_they_are_masked_in_batches(
    tmp_path: Path, load
):
    line = 'password = "hunter2!x"\n'  # 23 bytes, and 33 once masked
    write(tmp_path, {f"f{i:03}.txt": line for i in range(60)})
    pack = load(tmp_path, max_file_size=100, max_total_size=1000)
    assert len(pack.entries) == 30 and pack.total_bytes == 30 * 33
    assert all(e.secrets_masked == 1 for e in pack.entries)
    assert [s.path for s in pack.skipped] == [f"f{i:03}.txt" for i in range(30, 60)]
    assert {str(s.reason) for s in pack.skipped} == {"over total cap"}
