"""Several sources as one context: directories, files, stdin and JSON data, each with a name.

    load_sources(as_sources(["../sdk", "notes.log", Source("issues", data=[...])]), pack_dir)

A source is a path (a directory, a file, or "-" for stdin), a Python value given as data (a
str, list, dict, number, bool or None: JSON data), or a `.json` / `.jsonl` file loaded as data
(`as_data=True`: its list or dict rather than its text). Unnamed sources are `context_0`,
`context_1`, ... by their place in the order given.

One plain path loads exactly as `load_context` loads it (a pack without a sources table).
Anything else becomes ONE pack of kind "files" whose paths start with each source's name:
`sdk/src/a.py`, `notes/notes.log`, and a data source as one file, `issues/data.json` (its
value as indented JSON) or `issues/data.txt` (a str given as data). The pack's sources table
says which entries are whose, so the worker gives each source its own variable (a directory
as a view of its files, a file as its str, data as read-only lists and dicts) and `context`
all of them as one mapping; coverage, the app's file tree and the exports read the one pack.

Secrets are masked in data as in files: in every string (keys and values, at any depth) and
then in the indented JSON as a whole (so that `{"password": "..."}` is masked too), unless
--include-secrets.
"""

from __future__ import annotations

import builtins
import json
import keyword
import os
import shutil
import stat
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from rlm_tui.context.files import NotRegularFile, read_regular_file
from rlm_tui.context.loader import STDIN, STDIN_NAME, LoadOptions, load_context
from rlm_tui.context.pack import ContextPack, PackWriter
from rlm_tui.context.prepared_text import PreparedText, decode, prepare_text
from rlm_tui.context.secrets import is_secret_file, mask_secrets_many
from rlm_tui.context.skips import SkippedFile
from rlm_tui.context.source_table import PackSource, SourceKind
from rlm_tui.errors import InputError, UsageError


class _NoData:
    """The `data` of a source that is a path."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_DATA"


NO_DATA: Any = _NoData()

# The REPL's own names (sandbox/namespace.py), which a source may not take.
REPL_NAMES = frozenset({"context", "llm_query", "llm_query_batched", "rlm_query", "FINAL",
                        "FINAL_VAR", "SHOW_VARS"})
DATA_SUFFIXES = (".json", ".jsonl")
DATA_FILE = "data.json"  # a data source's one file in `context`
TEXT_DATA_FILE = "data.txt"  # ... when the data is a str


@dataclass(frozen=True)
class Source:
    """One source of a context: a `path` (a directory, a file, or "-" for stdin), or `data`
    (JSON data: str, list, dict, number, bool or None), or a .json/.jsonl file read as data
    (`path` with `as_data=True`). `name`: its variable in the REPL (default `context_<i>`)."""

    name: str | None = None
    path: str | None = None
    data: Any = NO_DATA
    as_data: bool = False

    @property
    def is_data(self) -> bool:
        """Given as a value in code (not a path)."""
        return self.data is not NO_DATA

    def describe(self) -> str:
        """How messages name it: its path, or `data 'name'`."""
        return f"data {self.name!r}" if self.is_data else str(self.path)


def as_sources(given: str | os.PathLike[str] | Source | Sequence[Any] | Mapping[str, Any]
               ) -> tuple[Source, ...]:
    """The sources `given` (one path, a Source, a list of them, or a mapping of name to
    them), each named: unnamed ones `context_<i>` by position. In a list or mapping, a str
    or path-like is a path, a Source itself, anything else data (a list, dict, number: a
    str given as data needs `Source(data=...)`). UsageError (one line) for
    a name that is not an identifier, is taken twice, or is one of the REPL's own; for a
    source that is neither a path nor data; for stdin given twice."""
    if isinstance(given, (str, os.PathLike, Source)):
        items: list[Source] = [_as_source(given)]
    elif isinstance(given, Mapping):
        items = [replace(_as_source(value), name=str(name)) for name, value in given.items()]
    else:
        items = [_as_source(item) for item in given]
    if not items:
        raise UsageError("no context: give a path, or at least one source")
    named = [item if item.name is not None else replace(item, name=f"context_{i}")
             for i, item in enumerate(items)]
    seen: set[str] = set()
    for item in named:
        name = str(item.name)
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise UsageError(f"source name {name!r} is not a Python identifier (letters, digits "
                             "and _, not starting with a digit or _)")
        if name in REPL_NAMES or hasattr(builtins, name):
            raise UsageError(f"source name {name!r} would hide the REPL's own {name}: choose "
                             "another")
        if name in seen:
            raise UsageError(f"source name {name!r} is given twice: each source needs its own")
        seen.add(name)
    if sum(1 for item in named if item.path == STDIN and not item.is_data) > 1:
        raise UsageError("stdin (-) can be read only once: give it as one source")
    return tuple(named)


def _as_source(value: Any) -> Source:
    if isinstance(value, Source):
        if value.is_data == (value.path is not None):
            raise UsageError("a source is a path or data, exactly one of them")
        if value.is_data and value.as_data:
            raise UsageError("as_data applies to a .json/.jsonl path, not to data")
        return value
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if not path:
            raise UsageError("a context path is empty")
        return Source(path=path)
    return Source(data=value)  # anything else is data (checked to be JSON when loaded)


def is_single_path(sources: Sequence[Source]) -> bool:
    """One source that is a path read as text: loaded as today, without a sources table."""
    return len(sources) == 1 and not sources[0].is_data and not sources[0].as_data


def load_sources(sources: Sequence[Source], pack_dir: str | os.PathLike[str],
                 options: LoadOptions | None = None, *,
                 stdin: BinaryIO | None = None) -> ContextPack:
    """Load named `sources` (from `as_sources`) into one pack in `pack_dir`. One plain path is
    `load_context`'s pack; anything else a pack of kind "files" with a sources table.
    InputError (one line, naming the source) for one that cannot be used: a missing path
    (checked for every source before any is loaded), a JSON file that does not parse (its
    file and line), the whole over the total cap."""
    options = options or LoadOptions()
    if is_single_path(sources):
        return load_context(str(sources[0].path), pack_dir, options, stdin=stdin)
    kinds = [_kind_of(source) for source in sources]
    order = sorted(range(len(sources)), key=lambda i: str(sources[i].name))
    rows: dict[int, PackSource] = {}
    skipped: list[SkippedFile] = []
    ignored: Counter[str] = Counter()
    parts = Path(pack_dir) / "parts"
    with PackWriter(pack_dir, kind="files") as writer:
        for i in order:  # by name: every path of the pack in path order
            source, kind = sources[i], kinds[i]
            room = options.max_total_size - writer.total_bytes
            if room <= 0:
                raise InputError(f"{source.describe()}: the sources before it fill the total "
                                 f"cap of {options.max_total_size:,} bytes (--max-total-size)")
            first = writer.entry_count
            prefix = f"{source.name}/"
            if kind == "data":
                rows[i] = _add_data(writer, source, prefix, first, room, options)
                continue
            part_options = replace(options, max_total_size=room)
            try:
                part = load_context(str(source.path), parts / str(i), part_options, stdin=stdin)
                writer.append_pack(part, prefix)
            finally:
                shutil.rmtree(parts / str(i), ignore_errors=True)
            skipped += [SkippedFile(prefix + s.path, s.reason, s.detail) for s in part.skipped]
            ignored.update(part.ignored)
            origin = STDIN_NAME if kind == "stdin" else os.path.realpath(str(source.path))
            rows[i] = PackSource(str(source.name), kind,
                                 "ContextView" if kind == "directory" else "str", origin,
                                 part.mode, first, len(part.entries))
        shutil.rmtree(parts, ignore_errors=True)
        table = [rows[i] for i in range(len(sources))]
        return writer.finish(mode="sources", source=", ".join(s.describe() for s in sources),
                             skipped=sorted(skipped, key=lambda s: s.path),
                             ignored=dict(ignored), options=options.to_dict(), sources=table)


def _kind_of(source: Source) -> SourceKind:
    """What a source is; InputError for a path that is missing or unusable as asked."""
    if source.is_data:
        return "data"
    path = str(source.path)
    if path == STDIN:
        if source.as_data:
            raise UsageError("as_data needs a .json or .jsonl file, not stdin")
        return "stdin"
    try:
        info = os.stat(Path(path).expanduser())
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        if source.as_data:
            raise UsageError(f"{path} is a directory: as_data needs a .json or .jsonl file")
        return "directory"
    if source.as_data:
        if not path.lower().endswith(DATA_SUFFIXES):
            raise UsageError(f"{path}: as_data reads .json or .jsonl files only")
        return "data"
    return "file"


def _add_data(writer: PackWriter, source: Source, prefix: str, first: int, room: int,
              options: LoadOptions) -> PackSource:
    if source.is_data:
        value, origin = _json_value(source.data, str(source.name)), "data"
    else:
        value, origin = _read_json_file(str(source.path), room, options), os.path.realpath(
            str(source.path))
    prepared, value = prepare_data(value, options.include_secrets)
    if len(prepared.text) > room:
        raise InputError(f"{source.describe()}: larger than the room left under the total cap "
                         f"of {options.max_total_size:,} bytes (--max-total-size)")
    name = TEXT_DATA_FILE if isinstance(value, str) else DATA_FILE
    writer.add(prefix + name, prepared.text, chars=prepared.chars, flags=prepared.flags,
               secrets_masked=prepared.secrets_masked)
    kind_name = "None" if value is None else type(value).__name__
    return PackSource(str(source.name), "data", kind_name, origin, "data", first, 1,
                      shape=describe_shape(value), as_data=source.as_data)


def _json_value(value: Any, name: str) -> Any:
    """`value` as JSON data (tuples become lists); UsageError when it is not JSON data."""
    try:
        return json.loads(json.dumps(value, ensure_ascii=False, default=_not_json))
    except (TypeError, ValueError) as exc:
        raise UsageError(f"data {name!r} is not JSON data: {exc}") from None


def _not_json(value: Any) -> Any:
    raise TypeError(f"a {type(value).__name__} is not JSON data (str, list, dict, number, bool, "
                    "None)")


def _read_json_file(path: str, limit: int, options: LoadOptions) -> Any:
    """A .json file's value, or a .jsonl file's lines as a list; InputError naming the file
    and line of the first thing that does not parse."""
    if not options.include_secrets and is_secret_file(Path(path).name):
        raise InputError(f"{path} looks like a secrets file; pass --include-secrets to load it")
    try:
        data = read_regular_file(os.path.realpath(path), limit, sniff=False)
    except NotRegularFile:
        raise InputError(f"{path} is not a regular file") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    if data is None:
        raise InputError(f"{path} is larger than the total cap of {options.max_total_size:,} "
                         "bytes (--max-total-size)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line}: not UTF-8 text, so not JSON") from None
    if path.lower().endswith(".jsonl"):
        records = []
        for number, line_text in enumerate(text.splitlines(), 1):
            if line_text.strip():
                records.append(_parse(line_text, path, number - 1))
        return records
    if not text.strip():
        raise InputError(f"{path} is empty, not JSON")
    return _parse(text, path, 0)


def _parse(text: str, path: str, lines_before: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {lines_before + exc.lineno}: not valid JSON "
                         f"({exc.msg})") from None


def prepare_data(value: Any, include_secrets: bool = False) -> tuple[PreparedText, Any]:
    """JSON data as the text its source holds in the pack (a str as itself, anything else
    as indented JSON) and the value the REPL gets (decoded from that text), secrets masked
    in both, unless `include_secrets`."""
    if include_secrets:
        return decode(_text_of(value)), value
    strings: list[str] = []
    _collect_strings(value, strings)
    masked_strings = [m.decode("utf-8") for m, _ in
                      mask_secrets_many([s.encode("utf-8", "surrogatepass") for s in strings])]
    count = sum(1 for s, m in zip(strings, masked_strings) if s != m)
    value = _rebuild(value, iter(masked_strings))
    text = _text_of(value)
    whole = prepare_text(text)  # the JSON as a whole: `"password": "..."` pairs
    if whole.text != text and not isinstance(value, str):
        try:
            value = json.loads(whole.text)
        except ValueError:  # a mask across the JSON's own syntax: keep the strings' masks
            whole = decode(text)
    elif isinstance(value, str):
        value = whole.text.decode("utf-8")
    masked = count + whole.secrets_masked
    if not masked:
        return whole, value
    flags = tuple(dict.fromkeys((*whole.flags, "secrets-masked")))
    return PreparedText(whole.text, whole.chars, flags, masked), value


def _text_of(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8", "surrogatepass")


def _collect_strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _collect_strings(item, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            out.append(key)
            _collect_strings(item, out)


def _rebuild(value: Any, masked: Any) -> Any:
    # In _collect_strings' order: each string replaced by its masked text.
    if isinstance(value, str):
        return next(masked)
    if isinstance(value, list):
        return [_rebuild(item, masked) for item in value]
    if isinstance(value, dict):
        out = {}
        for _key, item in value.items():
            key = next(masked)
            out[key] = _rebuild(item, masked)
        return out
    return value


SHAPE_KEYS = 12  # keys named in a data source's shape


def describe_shape(value: Any) -> str:
    """What a data value holds, for the root model: "a list of 120 dicts (keys: id, title,
    ...)", "a dict of 4 keys (a, b, c, d)", "a str of 1,200 chars"."""
    if isinstance(value, str):
        return f"a str of {len(value):,} chars"
    if isinstance(value, dict):
        return f"a dict of {len(value):,} keys{_keys(list(value))}"
    if isinstance(value, list):
        kinds = Counter("None" if item is None else type(item).__name__ for item in value)
        if not kinds:
            return "an empty list"
        if len(kinds) == 1:
            kind = next(iter(kinds))
            keys: dict[str, None] = {}
            if kind == "dict":
                for item in value[:200]:
                    keys.update(dict.fromkeys(item))
            plural = "" if len(value) == 1 else "s"
            return f"a list of {len(value):,} {kind}{plural}{_keys(list(keys))}"
        mix = ", ".join(f"{n:,} {kind}" for kind, n in kinds.most_common())
        return f"a list of {len(value):,} items ({mix})"
    return f"a {'None' if value is None else type(value).__name__}: {json.dumps(value)[:80]}"


def _keys(keys: list[str]) -> str:
    if not keys:
        return ""
    shown = ", ".join(keys[:SHAPE_KEYS])
    return f" (keys: {shown}{', …' if len(keys) > SHAPE_KEYS else ''})"
