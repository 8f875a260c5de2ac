"""Theme files: TOML files that each define one Textual theme.

Loaded at start from the themes shipped in the package (`builtin_themes/`) and then from the
user's own directory, `<user config dir>/rlm-tui/themes/` (a user theme with a built-in's
name replaces it). A file holds the fields of `textual.theme.Theme`:

    name = "my-theme"            # required; what the palette lists
    dark = true
    primary = "#7aa2f7"          # required; the other colours are optional
    secondary = "#bb9af7"
    accent = "#ff9e64"
    warning = "#e0af68"
    error = "#f7768e"
    success = "#9ece6a"
    foreground = "#c0caf5"
    background = "#1a1b26"
    surface = "#24283b"
    panel = "#2f3549"
    [variables]                  # optional: Textual's CSS variables, e.g.
    "footer-key-foreground" = "#7aa2f7"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

BUILTIN_THEMES_DIR = Path(__file__).parent / "builtin_themes"
DEFAULT_THEME = "rlm-dusk"

_COLOURS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground",
            "background", "surface", "panel", "boost")
_NUMBERS = ("luminosity_spread", "text_alpha")
_KNOWN = {"name", "dark", "variables", *(_COLOURS), *(_NUMBERS)}


class ThemeFileError(ValueError):
    """A theme file that cannot be used; the message names the file and the key."""


def user_themes_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path("rlm-tui") / "themes"


def theme_dirs() -> list[Path]:
    """Where themes are read from, in order (later files win on equal names)."""
    return [BUILTIN_THEMES_DIR, user_themes_dir()]


def parse_theme(data: dict[str, object], source: str) -> Theme:
    """A `Theme` from a theme file's table; ThemeFileError if a key or value is wrong."""
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise ThemeFileError(f"{source}: unknown key {unknown[0]!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"{source}: 'name' must be a non-empty string")
    if "primary" not in data:
        raise ThemeFileError(f"{source}: 'primary' is required")
    fields: dict[str, object] = {"name": name.strip()}
    for key in _COLOURS:
        if key in data:
            fields[key] = _colour(data[key], f"{source}: {key!r}")
    for key in _NUMBERS:
        if key in data:
            value = data[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ThemeFileError(f"{source}: {key!r} must be a number")
            fields[key] = float(value)
    if "dark" in data:
        if not isinstance(data["dark"], bool):
            raise ThemeFileError(f"{source}: 'dark' must be true or false")
        fields["dark"] = data["dark"]
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in variables.items()):
        raise ThemeFileError(f"{source}: [variables] must map names to strings")
    fields["variables"] = dict(variables)
    return Theme(**fields)  # type: ignore[arg-type]


def _colour(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ThemeFileError(f"{where} must be a colour string, e.g. \"#1a1b26\"")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{where}: not a colour: {value!r}") from None
    return value


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThemeFileError(f"{path.name}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"{path.name}: not valid TOML: {exc}") from None
    return parse_theme(data, path.name)


@dataclass
class LoadedThemes:
    themes: dict[str, Theme]
    errors: list[str]  # one line per file that could not be used


def load_themes(dirs: list[Path] | None = None) -> LoadedThemes:
    """Every theme file (`*.toml`) in `dirs` (default: `theme_dirs()`); a bad file is
    reported in `errors` and skipped, never fatal."""
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for directory in theme_dirs() if dirs is None else dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                errors.append(str(exc))
                continue
            themes[theme.name] = theme
    return LoadedThemes(themes, errors)
