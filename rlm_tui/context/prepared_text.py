"""A file's text as it goes into a pack: decoded as UTF-8 (invalid bytes replaced and
flagged), secrets masked (flagged, with the count), its characters counted."""

from __future__ import annotations

from dataclasses import dataclass

from rlm_tui.context.pack import FLAG_NON_UTF8, FLAG_SECRETS_MASKED
from rlm_tui.context.secrets import mask_secrets
from rlm_tui.context.windows import line_windows


@dataclass(frozen=True, slots=True)
class PreparedText:
    """A file's text as it goes into a pack: valid UTF-8, secrets masked unless asked not."""

    text: bytes
    chars: int
    flags: tuple[str, ...]
    secrets_masked: int


def count_chars(data: bytes) -> int | None:
    """Characters in UTF-8 `data`, or None if it is not valid UTF-8. Decodes a window at a time,
    as a str of non-ASCII text can take four bytes per character."""
    if data.isascii():  # the common case needs no decode at all
        return len(data)
    view = memoryview(data)
    try:
        return sum(len(str(view[a:b], "utf-8")) for a, b in line_windows(data, 0, len(data)))
    except UnicodeDecodeError:
        return None
    finally:
        view.release()


def _replace_invalid_utf8(data: bytes) -> bytes:
    # Window by window is exact: a newline never belongs to a multi-byte sequence.
    return b"".join(
        data[a:b].decode("utf-8", "replace").encode("utf-8")
        for a, b in line_windows(data, 0, len(data))
    )


def prepare_text(data: bytes, include_secrets: bool = False) -> PreparedText:
    """Decode `data` as UTF-8 (replacing invalid bytes, flagged "non-utf8") and mask secrets
    in it (flagged "secrets-masked", with the count), unless `include_secrets`."""
    decoded = decode(data)
    if include_secrets:
        return decoded
    return with_masks(decoded, *mask_secrets(decoded.text))


def decode(data: bytes) -> PreparedText:
    """`data` as valid UTF-8 (invalid bytes replaced, flagged "non-utf8"), not yet masked."""
    chars = count_chars(data)
    if chars is not None:
        return PreparedText(data, chars, (), 0)
    data = _replace_invalid_utf8(data)
    chars = count_chars(data)
    assert chars is not None  # valid UTF-8 by now
    return PreparedText(data, chars, (FLAG_NON_UTF8,), 0)


def with_masks(decoded: PreparedText, masked: bytes, counts: dict[str, int]) -> PreparedText:
    """`decoded` masked as `mask_secrets` gave (`masked`, `counts`): flagged, characters
    counted again; `decoded` itself if nothing was masked."""
    if not counts:
        return decoded
    chars = count_chars(masked)
    assert chars is not None  # masks fall on character boundaries
    flags = (*decoded.flags, FLAG_SECRETS_MASKED)
    return PreparedText(masked, chars, flags, sum(counts.values()))
