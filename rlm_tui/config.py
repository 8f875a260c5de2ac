"""Settings: defaults < TOML config file < `RLM_TUI_*` environment < command-line flags.

One loader for the whole program. A bad value anywhere is a `ConfigError` whose one line names
the key and where it came from.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rlm_tui.errors import ConfigError

ENV_PREFIX = "RLM_TUI_"
# The context's default size limits, here for the settings, the flags and the loader alike, so
# that `rlm-tui context` shows what `run` and the app load.
DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024  # 2 MiB ("2M"): a larger file is skipped
DEFAULT_MAX_TOTAL_SIZE = 200 * 1024 * 1024  # 200 MiB ("200M") of text in the whole pack
# The sandbox's defaults (SandboxLimits takes them from here, the CLI's help names them).
DEFAULT_CELL_TIMEOUT_S = 60.0  # running time of one cell; waiting for sub-calls not counted
DEFAULT_MEMORY_MB = 2048  # the worker's address space
DEFAULT_MODEL_OUTPUT_CHARS = 20_000  # of a cell's output, shown to the model
# The cap on a reply (max_tokens in every request): a root turn writes reasoning and code, a
# sub-call reads a piece and answers. Without one a rambling model holds an iteration for as
# long as its server lets it (a 32k context: about 25 minutes on a small local model).
DEFAULT_ROOT_OUTPUT_TOKENS = 4096
DEFAULT_SUB_OUTPUT_TOKENS = 2048
# Completion arguments the model client sets itself: a model's params may not (they would
# break streaming, retries or key handling). lm/spec.py checks ModelSpec against them too.
RESERVED_PARAMS = frozenset(
    {
        "model", "messages", "stream", "stream_options", "api_base", "base_url", "api_key",
        "timeout", "request_timeout", "num_retries", "max_retries",
    }
)


class Price(BaseModel):
    """A custom price, in USD per million tokens: `cached_input` for prompt tokens read from
    the provider's cache, `cache_write` for those written to it (each: the input price when
    left out)."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)

    def per_million(self) -> tuple[float, float, float | None, float | None]:
        """(input, output, cached_input, cache_write), as lm.PriceTable takes them."""
        return self.input, self.output, self.cached_input, self.cache_write


# `schema` (the flag's and the config key's name) shadows BaseModel's deprecated schema():
# said once here, so pydantic need not warn at every start.
warnings.filterwarnings("ignore", message='Field name "schema" in "Settings" shadows',
                        category=UserWarning)


class Settings(BaseModel):
    """Everything a run can be told. Names match the command-line flags."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str | None = None
    sub_model: str | None = None
    api_base: str | None = None
    sub_api_base: str | None = None
    max_iterations: int = Field(30, ge=1, le=10_000)
    max_depth: int = Field(1, ge=1, le=10)
    max_cost: float | None = Field(None, gt=0)
    max_tokens: int | None = Field(None, gt=0)
    max_time: float | None = Field(None, gt=0)
    max_output_tokens: int | None = Field(None, ge=1)  # root and sub-calls; see effective_*
    sub_max_output_tokens: int | None = Field(None, ge=1)
    max_concurrency: int = Field(16, ge=1, le=1024)
    # Compaction of the root conversation: past compact_at (a share) of the root model's
    # input window, the older iterations give way to a summary the root model writes; the
    # window is root_window when set, else the price map's max_input_tokens for the root
    # model (unknown: no compaction). compact_at = 0 (or "off") turns compaction off.
    root_window: int | None = Field(None, ge=100)
    compact_at: float = Field(0.85, ge=0, lt=1)
    cell_timeout: float = Field(DEFAULT_CELL_TIMEOUT_S, gt=0, le=86_400)
    memory_mb: int = Field(DEFAULT_MEMORY_MB, ge=64)
    model_output_chars: int = Field(DEFAULT_MODEL_OUTPUT_CHARS, ge=100)
    request_timeout: float = Field(600.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    include_secrets: bool = False
    max_file_size: int = Field(DEFAULT_MAX_FILE_SIZE, gt=0)
    max_total_size: int = Field(DEFAULT_MAX_TOTAL_SIZE, gt=0)
    theme: str | None = None
    # A JSON Schema file: every answer must match it (an answer that does not goes back to
    # the model with the errors).
    schema: str | None = None
    # A Python file whose public functions model code may call from the REPL (--tools): they
    # run in the host process, with its rights (see engine/tools.py).
    tools: str | None = None
    # OpenTelemetry traces of every session (the extra rlm-tui[otel]; where they go: the
    # standard OTEL_EXPORTER_OTLP_* variables); otel_content: with prompts, code, outputs.
    otel: bool = False
    otel_content: bool = False
    # Cells held for a person's approval before they run (the app only): none, every cell,
    # or the cells that end the run (FINAL / FINAL_VAR, and the other cells of their reply).
    approve: Literal["none", "cells", "final"] = "none"
    # "auto": OpenAI-compatible models over a direct HTTP stream, others through litellm;
    # "litellm": everything through litellm.
    transport: Literal["auto", "litellm"] = "auto"
    # "auto": cache breakpoints on the root conversation for providers that need them
    # (Anthropic's models, lm/prompt_cache.py; others cache by themselves); "off": none.
    # "on" (the flag's word) means "auto".
    prompt_cache: Literal["auto", "off"] = "auto"
    # A headless session (run, eval task, MCP call, API session) listens on a Unix socket of
    # its own, so that `rlm-tui watch` can pause, step, halt and note it (rlm_tui/remote/).
    control_socket: bool = True
    prices: dict[str, Price] = Field(default_factory=dict)
    # Completion arguments per model, passed on as litellm takes them ([models."openai/x"]
    # temperature = 0.2, max_tokens = 1024, top_p = ...); a max_tokens here wins over the cap.
    models: dict[str, dict[str, str | int | float | bool | list[str]]] = Field(
        default_factory=dict)

    @field_validator("models")
    @classmethod
    def _no_reserved_params(cls, models: dict[str, dict[str, Any]]) -> dict[str, Any]:
        for name, params in models.items():
            clash = sorted(RESERVED_PARAMS.intersection(params))
            if clash:
                raise ValueError(f"{name}: may not set {', '.join(clash)} (rlm-tui sets them)")
        return models

    @field_validator("prompt_cache", mode="before")
    @classmethod
    def _on_is_auto(cls, value: Any) -> Any:
        return "auto" if value in ("on", True) else "off" if value is False else value
    @field_validator("compact_at", mode="before")
    @classmethod
    def _compact_off(cls, value: Any) -> Any:
        return 0.0 if isinstance(value, str) and value.strip().lower() == "off" else value

    @field_validator("api_base", "sub_api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("include", "exclude")
    @classmethod
    def _glob_patterns(cls, patterns: list[str]) -> list[str]:
        from pathspec import GitIgnoreSpec  # the loader's own matcher judges the patterns

        for pattern in patterns:
            try:
                GitIgnoreSpec.from_lines([pattern])
            except Exception as exc:  # pathspec raises several types for a bad pattern
                raise ValueError(f"bad pattern {pattern!r}: {exc}") from None
        return patterns

    @property
    def effective_sub_model(self) -> str | None:
        return self.sub_model or self.model

    def model_params(self, model: str, *, sub: bool) -> dict[str, Any]:
        """The completion arguments for `model`'s calls: the reply cap, then its own params."""
        if sub:
            cap = self.sub_max_output_tokens or self.max_output_tokens or \
                DEFAULT_SUB_OUTPUT_TOKENS
        else:
            cap = self.max_output_tokens or DEFAULT_ROOT_OUTPUT_TOKENS
        return {"max_tokens": cap, **self.models.get(model, {})}

    @property
    def effective_sub_api_base(self) -> str | None:
        return self.sub_api_base if self.sub_api_base is not None else self.api_base

    def public_dict(self) -> dict[str, Any]:
        """The settings as they may be written to a transcript: no secrets are held here,
        but URLs lose any user:password part."""
        data = self.model_dump(mode="json")
        for key in ("api_base", "sub_api_base"):
            if data.get(key):
                data[key] = _strip_credentials(data[key])
        return data


def public_url(url: str) -> str:
    """`url` as it may be shown or written: without any user:password part."""
    return _strip_credentials(url)


def _strip_credentials(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def default_config_path() -> Path:
    from platformdirs import user_config_path

    return user_config_path("rlm-tui") / "config.toml"


def _field_error(exc: ValidationError, source: str) -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown setting"
    top = str(err["loc"][0]) if err["loc"] else key
    if source == "command line":
        return ConfigError(f"--{top.replace('_', '-')}: {msg}")
    if source == "arguments":  # the Python API's keyword arguments
        return ConfigError(f"{top}: {msg}")
    if source == "environment":
        return ConfigError(f"{ENV_PREFIX}{top.upper()}: {msg}")
    return ConfigError(f"{source}: {key}: {msg}")


def read_config_file(path: Path, *, required: bool) -> dict[str, Any]:
    """The settings in a TOML file (keys may use - or _); {} if absent and not required."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        if required:
            raise ConfigError(f"config file not found: {path}") from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return {k.replace("-", "_"): v for k, v in data.items()}


def read_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings from RLM_TUI_* variables (strings; pydantic converts them)."""
    environ = os.environ if environ is None else environ
    fields = Settings.model_fields
    values: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX):].lower()
        if key not in fields:
            raise ConfigError(f"environment: {name}: unknown setting")
        if key in ("include", "exclude"):
            values[key] = [v for v in value.split(",") if v]
        elif key in ("prices", "models"):
            raise ConfigError(f"environment: {name}: set {key} in the config file")
        else:
            values[key] = value
    return values


def load_settings(
    flags: dict[str, Any] | None = None,
    *,
    config_path: Path | None = None,
    environ: dict[str, str] | None = None,
    inherited: tuple[dict[str, Any], str] | None = None,
    source: str = "command line",
) -> Settings:
    """Merge the four layers; flags whose value is None are treated as not given.
    `inherited`: settings a session continues with (a fork's parent's, and where they come
    from), above the config file and environment, below the flags. `source`: what the flags
    are called in an error ("command line": --max-cost; "arguments": the API's max_cost)."""
    path = config_path or default_config_path()
    layers = [
        (read_config_file(path, required=config_path is not None), f"config file {path}"),
        (read_environment(environ), "environment"),
    ]
    if inherited is not None:
        values, inherited_from = inherited
        layers.append(({k: v for k, v in values.items()
                        if k in Settings.model_fields and v is not None}, inherited_from))
    layers.append(({k: v for k, v in (flags or {}).items() if v is not None}, source))
    merged: dict[str, Any] = {}
    for values, layer in layers:
        try:
            Settings.model_validate({**merged, **values})
        except ValidationError as exc:
            raise _field_error(exc, layer) from None
        merged.update(values)
    return Settings.model_validate(merged)


def settings_with(base: Settings, values: dict[str, Any], *, source: str) -> Settings:
    """`base` with `values` on top, checked as load_settings checks a layer."""
    try:
        return Settings.model_validate({**base.model_dump(), **values})
    except ValidationError as exc:
        raise _field_error(exc, source) from None
# A top-level `key = value` line of a TOML file (`-` or `_` in the key, as read_config_file
# takes it), and the first table header, where top-level keys end.
_TABLE_HEADER = re.compile(r"^\s*\[")
_CHOSEN_KEYS = ("model", "api_base")


def _key_line(key: str) -> re.Pattern[str]:
    spelled = "|".join(re.escape(k) for k in {key, key.replace("_", "-")})
    return re.compile(rf"^\s*[\"']?(?:{spelled})[\"']?\s*=")


def save_model_choice(model: str, api_base: str | None, path: Path | None = None) -> Path:
    """Set `model` (and `api_base`, or no api_base) in the config file, the default one if
    `path` is None, keeping every other line as it was; an api_base line the choice does not
    need is commented out, not lost. The new text must read back with the same other settings
    before it replaces the file (atomically). ConfigError (one line) if it cannot be done;
    an address holding a user or password is not written (no secrets in the file)."""
    path = path or default_config_path()
    if api_base is not None and _strip_credentials(api_base) != api_base:
        raise ConfigError("the server's address holds a user or password: not saved to "
                          f"{path} (set api_base there yourself)")
    try:
        old_text = path.read_text(encoding="utf-8") if path.exists() else ""
        old = tomllib.loads(old_text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} was not changed: {exc}") from None
    lines = old_text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    top = next((i for i, line in enumerate(lines) if _TABLE_HEADER.match(line)), len(lines))
    values = {"model": model, "api_base": api_base}
    for key in _CHOSEN_KEYS:
        value, pattern = values[key], _key_line(key)
        found = next((i for i in range(top) if pattern.match(lines[i])), None)
        if value is None:
            if found is not None:
                lines[found] = f"# {lines[found].rstrip()}  # not needed by model {model}\n"
            continue
        line = f"{key} = {json.dumps(value)}\n"  # a JSON string is a TOML basic string
        if found is not None:
            lines[found] = line
        else:
            lines.insert(0, line)
            top += 1
    new_text = "".join(lines)
    try:
        new = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        new = None
    others = {k: v for k, v in old.items() if k.replace("-", "_") not in _CHOSEN_KEYS}
    if new is None or new.get("model") != model or new.get("api_base") != api_base or {
            k: v for k, v in new.items() if k.replace("-", "_") not in _CHOSEN_KEYS} != others:
        raise ConfigError(f"config file {path} was not changed: it could not be updated "
                          f"safely; add model = {json.dumps(model)} to it yourself")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(new_text)
            if path.exists():
                os.chmod(temp, path.stat().st_mode & 0o7777)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write config file {path}: {exc}") from None
    return path
