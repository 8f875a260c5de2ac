"""The context's default size limits: one place for the loader, the settings and the flags,
so that `rlm-tui context` shows what `run` and the app load."""

DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024  # 2 MiB ("2M"): a larger file is skipped
DEFAULT_MAX_TOTAL_SIZE = 200 * 1024 * 1024  # 200 MiB ("200M") of text in the whole pack
