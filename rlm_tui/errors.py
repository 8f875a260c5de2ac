"""The errors a user can cause, each with the exit code the command line gives it.

The command line catches `RlmTuiError` and prints `rlm-tui: <message>` on one line; anything
else is a bug and may show a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path


class RlmTuiError(Exception):
    """Base of every error meant for the user: one line, and an exit code."""

    exit_code = 2


class UsageError(RlmTuiError):
    """Bad flags or arguments."""


class InputError(RlmTuiError):
    """A path, file or transcript that cannot be used."""


class ConfigError(RlmTuiError):
    """A config file or environment setting that cannot be used; the message names the key."""


class ModelError(RlmTuiError):
    """The model or its provider failed: auth, unknown model, unreachable server."""

    exit_code = 3


class SandboxError(RlmTuiError):
    """The sandbox worker could not be started or talked to."""

    exit_code = 1


def read_text_file(path: str | os.PathLike[str], what: str, *, name: str | None = None,
                   error: type[RlmTuiError] = InputError) -> str:
    """A file a person named, as UTF-8 text; `error` (one line, naming it by `name` or its
    path) when it is missing, a directory, not UTF-8, or unreadable. `what`: "tasks file"."""
    shown = name or str(path)
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{shown}: no such {what}") from None
    except IsADirectoryError:
        raise error(f"{shown} is a directory, not a {what}") from None
    except UnicodeDecodeError:
        raise error(f"{shown}: not UTF-8 text, not a {what}") from None
    except OSError as exc:
        raise error(f"{shown}: {exc.strerror or exc}") from None
