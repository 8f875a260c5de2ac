"""What the root model is told about the context: sizes, a bounded tree, the largest files,
languages and what was left out. Never any file's contents.

Token counts are estimates: characters / 4.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rlm_tui.context.pack import ContextPack
from rlm_tui.context.source_table import PackSource

CHARS_PER_TOKEN = 4  # a rough estimate for code and English
TREE_LINES = 60
TOP_FILES = 10
TOP_LANGUAGES = 12
SKIP_EXAMPLES = 3
FILES_PER_DIRECTORY = 8  # an expanded directory lists at most this many of its files
ENTRIES_PER_DIRECTORY = 20  # ... and at most this many entries in all


def estimate_tokens(chars: int) -> int:
    """A rough token count for `chars` characters (chars / 4)."""
    return chars // CHARS_PER_TOKEN


@dataclass
class _Directory:
    name: str
    depth: int
    dirs: dict[str, _Directory] = field(default_factory=dict)
    files: list[tuple[str, int]] = field(default_factory=list)  # (name, chars)
    file_count: int = 0
    chars: int = 0


def _build_tree(pack: ContextPack) -> _Directory:
    root = _Directory(name="", depth=0)
    for entry in pack.entries:
        parts = entry.path.split("/")
        node = root
        node.file_count += 1
        node.chars += entry.chars
        for part in parts[:-1]:
            child = node.dirs.get(part)
            if child is None:
                child = node.dirs[part] = _Directory(name=part, depth=node.depth + 1)
            node = child
            node.file_count += 1
            node.chars += entry.chars
        node.files.append((parts[-1], entry.chars))
    return root


def _children(node: _Directory) -> tuple[list[_Directory], list[tuple[str, int]], int, int]:
    """What an expanded directory shows: its largest subdirectories and files (by chars, then
    listed by name), and the count and chars of the entries left out."""
    dirs = sorted(node.dirs.values(), key=lambda d: -d.chars)
    files = sorted(node.files, key=lambda f: -f[1])[:FILES_PER_DIRECTORY]
    room = ENTRIES_PER_DIRECTORY - len(files)
    shown_dirs = dirs[: max(room, ENTRIES_PER_DIRECTORY // 2)]
    files = files[: ENTRIES_PER_DIRECTORY - len(shown_dirs)]
    hidden = len(node.dirs) - len(shown_dirs) + len(node.files) - len(files)
    hidden_chars = node.chars - sum(d.chars for d in shown_dirs) - sum(c for _, c in files)
    return (
        sorted(shown_dirs, key=lambda d: d.name),
        sorted(files),
        hidden,
        hidden_chars,
    )


def _cost(node: _Directory) -> int:
    dirs, files, hidden, _ = _children(node)
    return len(dirs) + len(files) + (1 if hidden else 0)


def _tree_lines(root: _Directory, budget: int) -> list[str]:
    """The tree in at most `budget` lines: the biggest directories are expanded first; the
    rest stay one line each with their file count and size."""
    expanded: set[int] = {id(root)}
    used = 1 + _cost(root)
    queue: list[tuple[int, int, int, _Directory]] = []
    counter = 0

    def offer(node: _Directory) -> None:
        nonlocal counter
        for child in _children(node)[0]:
            if child.dirs or child.files:
                counter += 1
                heapq.heappush(queue, (-child.chars, child.depth, counter, child))

    offer(root)
    while queue:
        _, _, _, node = heapq.heappop(queue)
        cost = _cost(node)
        if used + cost <= budget:
            used += cost
            expanded.add(id(node))
            offer(node)

    lines: list[str] = []

    def render(node: _Directory, indent: str) -> None:
        dirs, files, hidden, hidden_chars = _children(node)
        for child in dirs:
            summary = f"{_files(child.file_count)}, {_size(child.chars)}"
            if id(child) in expanded:
                lines.append(f"{indent}{child.name}/  ({summary})")
                render(child, indent + "  ")
            else:
                lines.append(f"{indent}{child.name}/  ({summary}, not expanded)")
        for name, chars in files:
            lines.append(f"{indent}{name}  ({_size(chars)})")
        if hidden:
            lines.append(f"{indent}… {hidden:,} more entries ({_size(hidden_chars)})")

    lines.append(f"./  ({_files(root.file_count)}, {_size(root.chars)})")
    render(root, "  ")
    return lines[:budget]


def _source_lines(meta: dict[str, Any], tokens: str, names: Callable[[str], str]) -> list[str]:
    """The head of a summary of several sources (or of one given as data): each by name."""
    sources = meta["sources"]
    if len(sources) == 1:
        source = sources[0]
        return [f"Context: `context` (also `{source['name']}`) is {_source_phrase(source, names)}."]
    lines = [f"Context: {len(sources)} sources, each its own variable in the REPL:"]
    lines += [f"- `{source['name']}`: {_source_phrase(source, names)}" for source in sources]
    shown = ", ".join(names(s["paths"][0] if s["paths"] else s["prefix"] + "…")
                      for s in sources)
    lines.append(
        f"`context` is all of them as one read-only mapping of {meta['files']:,} files "
        f"(path -> text), each path starting with its source's name ({shown}): "
        f"{meta['chars']:,} chars ({tokens}), {meta['lines']:,} lines."
    )
    return lines


def _source_phrase(source: dict[str, Any], names: Callable[[str], str]) -> str:
    origin = names(source["origin"].rstrip("/").rsplit("/", 1)[-1])
    size = f"{source['chars']:,} chars (~{source['estimated_tokens']:,} tokens)"
    if source["kind"] == "directory":
        how = {"git": "git work tree", "walk": "directory"}.get(source["mode"], source["mode"])
        return (f"{how} {origin!r}, a read-only mapping of {_files(source['files'])} (path -> "
                f"text, paths relative to it): {size}, {source['lines']:,} lines")
    if source["kind"] in ("file", "stdin"):
        return f"one text ({origin}), a str of {size}, {source['lines']:,} lines"
    where = "given in code" if source["origin"] == "data" else f"read from {origin}"
    if source["type"] in ("list", "dict"):
        return (f"read-only JSON data {where}, {source['shape']}; as JSON: {size} "
                f"(list(x) or dict(x) makes a copy you can change)")
    return f"data {where}, {source['shape']}"


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"{count:,} files"


def _size(chars: int) -> str:
    if chars < 1000:
        return f"{chars} chars"
    if chars < 1_000_000:
        return f"{chars / 1000:.1f}K chars"
    return f"{chars / 1_000_000:.1f}M chars"


def describe_context(pack: ContextPack, *, tree_lines: int = TREE_LINES) -> dict[str, Any]:
    """Metadata about `pack` for the root prompt and the `context` command, as JSON-ready
    data: kind, source name, counts, chars, lines, estimated tokens (chars/4), and for a
    directory: a tree of at most `tree_lines` lines, the largest files, languages, skipped
    files by reason (with examples) and ignored counts. Never file contents."""
    chars = pack.total_chars
    meta: dict[str, Any] = {
        "kind": pack.kind,
        "type": "str" if pack.kind == "text" else "ContextView",
        "mode": pack.mode,
        "name": _source_name(pack),
        "files": len(pack.entries),
        "chars": chars,
        "bytes": pack.total_bytes,
        "lines": pack.total_lines,
        "estimated_tokens": estimate_tokens(chars),
        "chars_per_token": CHARS_PER_TOKEN,
        "flags": dict(Counter(flag for e in pack.entries for flag in e.flags)),
        "secrets_masked": sum(e.secrets_masked for e in pack.entries),
    }
    if pack.kind == "text":
        return meta
    if pack.sources:
        meta["sources"] = [_describe_source(pack, source) for source in pack.sources]
    largest = heapq.nlargest(TOP_FILES, pack.entries, key=lambda e: e.chars)
    meta["largest_files"] = [
        {"path": e.path, "chars": e.chars, "lines": e.lines} for e in largest
    ]
    languages: dict[str, list[int]] = {}
    for entry in pack.entries:
        counts = languages.setdefault(entry.language, [0, 0])
        counts[0] += 1
        counts[1] += entry.chars
    ranked = sorted(languages.items(), key=lambda item: -item[1][1])
    meta["languages"] = [
        {"language": name, "files": files, "chars": lang_chars}
        for name, (files, lang_chars) in ranked[:TOP_LANGUAGES]
    ]
    if len(ranked) > TOP_LANGUAGES:
        rest = ranked[TOP_LANGUAGES:]
        meta["languages"].append(
            {
                "language": f"{len(rest)} more",
                "files": sum(f for _, (f, _) in rest),
                "chars": sum(c for _, (_, c) in rest),
            }
        )
    meta["tree"] = _tree_lines(_build_tree(pack), tree_lines)
    skipped: dict[str, dict[str, Any]] = {}
    for item in pack.skipped:
        group = skipped.setdefault(str(item.reason), {"count": 0, "examples": []})
        group["count"] += 1
        if len(group["examples"]) < SKIP_EXAMPLES:
            group["examples"].append(item.path)
    meta["skipped"] = skipped
    meta["ignored"] = dict(pack.ignored)
    return meta


def _describe_source(pack: ContextPack, source: PackSource) -> dict[str, Any]:
    entries = pack.entries[source.first : source.first + source.count]
    chars = sum(e.chars for e in entries)
    return {
        "name": source.name, "kind": source.kind, "type": source.type, "mode": source.mode,
        "origin": source.origin, "shape": source.shape, "prefix": source.prefix,
        # Where a fork loads it again: the absolute path, "-" (stdin) or "data" (a value).
        "path": {"<stdin>": "-"}.get(source.origin, source.origin), "as_data": source.as_data,
        "paths": [e.path for e in entries[:1]] if source.kind != "directory" else [],
        "files": len(entries), "chars": chars, "bytes": sum(e.size for e in entries),
        "lines": sum(e.lines for e in entries), "estimated_tokens": estimate_tokens(chars),
        "secrets_masked": sum(e.secrets_masked for e in entries),
    }


def _source_name(pack: ContextPack) -> str:
    if pack.sources:
        return " + ".join(source.name for source in pack.sources)
    if pack.mode == "stdin":
        return "<stdin>"
    name = pack.source.rstrip("/").rsplit("/", 1)[-1]
    return name or pack.source


def render_context_summary(
    meta: dict[str, Any], names: Callable[[str], str] = str
) -> str:
    """`describe_context`'s data as compact text for a prompt or a terminal. `names` shows
    each file name and tree line (a terminal's: `printable_name`, one line each)."""
    tokens = f"~{meta['estimated_tokens']:,} tokens at {meta['chars_per_token']} chars/token"
    if meta["kind"] == "text":
        lines = [
            f"Context: one text ({meta['name']}), a str of {meta['chars']:,} chars "
            f"({tokens}), {meta['lines']:,} lines."
        ]
    elif meta.get("sources"):
        lines = _source_lines(meta, tokens, names)
    else:
        how = {"git": "git work tree", "walk": "directory"}.get(meta["mode"], meta["mode"])
        lines = [
            f"Context: {how} {meta['name']!r}, a read-only mapping of {meta['files']:,} files "
            f"(path -> text): {meta['chars']:,} chars ({tokens}), {meta['lines']:,} lines."
        ]
    if meta["secrets_masked"]:
        masked = meta["secrets_masked"]
        lines.append(f"Secrets masked: {masked:,} values, shown as [REDACTED:kind].")
    if meta["flags"].get("non-utf8"):
        lines.append(
            f"Not valid UTF-8 (invalid bytes shown as U+FFFD): {meta['flags']['non-utf8']:,} files."
        )
    if meta["kind"] == "text":
        return "\n".join(lines)
    lines.append("")
    lines.append("Tree (chars per file or directory):")
    lines.extend(map(names, meta["tree"]))
    lines.append("")
    lines.append("Largest files:")
    for item in meta["largest_files"]:
        lines.append(f"  {names(item['path'])}  ({_size(item['chars'])}, {item['lines']:,} lines)")
    lines.append("")
    lines.append(
        "Languages: "
        + "; ".join(
            f"{item['language']} {_files(item['files'])} {_size(item['chars'])}"
            for item in meta["languages"]
        )
    )
    if meta["skipped"]:
        parts = []
        for reason, group in sorted(meta["skipped"].items(), key=lambda kv: -kv[1]["count"]):
            examples = ", ".join(map(names, group["examples"]))
            more = ", …" if group["count"] > len(group["examples"]) else ""
            parts.append(f"{group['count']:,} {reason} (e.g. {examples}{more})")
        lines.append("Skipped (not in the context): " + "; ".join(parts))
    if meta["ignored"]:
        ignored = ", ".join(f"{n:,} by {why}" for why, n in meta["ignored"].items())
        lines.append(f"Ignored entries (a directory counts once): {ignored}")
    return "\n".join(lines)
