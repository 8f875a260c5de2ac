"""Files that exist to hold secrets, judged by their name alone (the first layer; see the
package's docstring for the list)."""

from __future__ import annotations

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
