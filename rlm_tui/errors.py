"""The errors a user can cause, each with the exit code the command line gives it.

The command line catches `RlmTuiError` and prints `rlm-tui: <message>` on one line; anything
else is a bug and may show a traceback.
"""


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
