"""The context: a repo, a file, stdin, or several of them and JSON data, as a read-only pack
that the sandbox worker maps.

- loader.py: `load_context(source, pack_dir, LoadOptions)` -> `ContextPack`
- sources.py: several sources (paths, JSON data, .json/.jsonl files as data) as one pack:
  `as_sources(given)`, `load_sources(sources, pack_dir, LoadOptions)`; source_table.py: the
  pack's table of them (`PackSource`)
- listing.py, ignore.py: which files (git ls-files, or a walk honouring .gitignore), plus
  .rlmignore and --include/--exclude
- directory.py: the listed files into a pack one by one; files.py: one file on disk;
  prepared_text.py: its text decoded and masked
- secrets/: secret files skipped, secret-looking values masked
- parallel.py: a large directory loaded by two processes at once (cores.py: when)
- pack.py: the pack on disk (`PackWriter`, `ContextPack`)
- view.py: the worker's read-only view (`open_view`, `take_coverage`); standard library only
- coverage.py: what code read and what sub-call prompts carried (`Coverage`)
- metadata.py: what the root model is told (`describe_context`, `render_context_summary`)

Nothing is imported here: the worker imports view.py alone and must start fast.
"""
