"""What the app remembers between sessions (the theme picked in the palette), kept in a small
JSON file in the user state dir. A missing or broken file means no preferences."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


def preferences_path() -> Path:
    from platformdirs import user_state_path

    return user_state_path("rlm-tui") / "tui.json"


@dataclass
class Preferences:
    theme: str | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Preferences:
        try:
            data = json.loads((path or preferences_path()).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        theme = data.get("theme") if isinstance(data, dict) else None
        return cls(theme=theme if isinstance(theme, str) else None)

    def save(self, path: Path | None = None) -> None:
        """Write the file (atomically); an unwritable state dir is not worth an error."""
        path = path or preferences_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
            os.replace(partial, path)
        except OSError:
            pass
