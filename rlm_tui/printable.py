"""Text from outside (file names and contents, model replies, cell output, prompts) made safe
to draw: control characters shown, not obeyed.

Rich and Textual pass ESC and the C1 controls to the terminal as they are, so a file named
`x\\x1b]0;title\\x07` or a cell that prints `\\x1b]52;c;...` would retitle the window or write
the clipboard. Each C0 control but tab and newline (and carriage return, which Rich drops)
is drawn as its Unicode control picture (ESC as ␛), DEL as ␡, and a C1 control as `\\x9b`.
The app draws all such text through `printable`; the commands that print it (`rlm-tui run`'s
answer, `rlm-tui context`'s listing, `rlm-tui export` to stdout) do so on a terminal, and
leave it as it is for a pipe.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

_KEPT = {0x09, 0x0A, 0x0D}
_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in _KEPT}
_TABLE[0x7F] = "\u2421"
_TABLE.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})
# A name is one line: its tab, newline and carriage return are shown too ("a\nb" would be
# drawn as "a", a line of a tree, and "b" lost).
_NAME_TABLE = {**_TABLE, **{c: chr(0x2400 + c) for c in _KEPT}}


def printable(text: str) -> str:
    """`text` with its control characters made visible (see the module's docstring)."""
    return text.translate(_TABLE) if not text.isprintable() else text


def printable_name(name: str) -> str:
    """A file's name or path as one line: `printable`, with tab and newline shown as well."""
    return name.translate(_NAME_TABLE) if not name.isprintable() else name


def for_terminal(text: str, stream: TextIO | None = None) -> str:
    """`text` as `printable` makes it if `stream` (default stdout) is a terminal; else as is."""
    stream = sys.stdout if stream is None else stream
    return printable(text) if stream.isatty() else text


# JSON escapes the C0 controls but leaves DEL and the C1 controls as they are. Escaped here as
# \u007f-\u009f: the same data to every JSON reader, and nothing for a terminal to obey when
# the JSON is printed (`--json`, `export --format json`, `cat` or `tail -f` of a transcript).
_JSON_TABLE = {c: f"\\u{c:04x}" for c in range(0x7F, 0xA0)}
_DEL_OR_C1 = re.compile("[\x7f-\x9f]")


def escape_json_controls(json_text: str) -> str:
    """`json_text` (JSON, as json.dumps or pydantic write it) with DEL and C1 escaped too.
    Looked for first (a transcript line can hold a 200,000-character prompt, and the app
    writes it on its event loop): most text has none, and is returned as it is."""
    if _DEL_OR_C1.search(json_text) is None:
        return json_text
    return json_text.translate(_JSON_TABLE)
