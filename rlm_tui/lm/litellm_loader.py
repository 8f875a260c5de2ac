"""Loading litellm: once, lazily, offline and quiet.

Importing litellm costs ~3 s and ~170 MB here, so nothing imports it at module level: the
first model call loads it in a worker thread, or the app calls `warm_up()` early in the
background. This is the only module that imports litellm.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
from types import ModuleType

_lock = threading.Lock()
_litellm: ModuleType | None = None
_warm = False

_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "LiteLLM Proxy.stdout")


def load_litellm() -> ModuleType:
    """Import and configure litellm (first call only) and return the module. Thread-safe.

    Configured so that it never reaches the network on its own (local price map, no
    telemetry), never writes to the terminal (its loggers get a NullHandler) and reads no
    .env file.
    """
    global _litellm
    if _litellm is not None:
        return _litellm
    with _lock:
        if _litellm is None:
            # All are read at import time: the bundled price map instead of a download,
            # its own stream handler at ERROR instead of DEBUG, and no .env loaded. In its
            # "DEV" mode litellm loads the first .env above its own directory, such as that
            # of a project whose venv holds rlm-tui: OPENAI_BASE_URL=... there would send
            # the user's key and context elsewhere (seen: it was set in our environment).
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            os.environ.setdefault("LITELLM_LOG", "ERROR")
            os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
            import litellm

            _quieten(litellm)
            _settle_heap()
            _litellm = litellm
    return _litellm


def litellm_exceptions() -> ModuleType:
    """`litellm.exceptions` (some of its classes are not exported at the top level)."""
    load_litellm()
    import litellm.exceptions

    return litellm.exceptions


def is_loaded() -> bool:
    """Whether litellm has been imported already (a model call will not wait for it)."""
    return _litellm is not None


def is_warm() -> bool:
    """Whether `warm_up` has run: litellm is loaded and its first call will be quick."""
    return _warm


async def warm_up() -> None:
    """Load litellm and prime its first call, in a worker thread, so the event loop (and the
    UI) never stalls on it. Idempotent; the model client calls it before its first call."""
    if not _warm:
        await asyncio.to_thread(prime_litellm)


def prime_litellm() -> None:
    """`warm_up`'s work, done in the calling thread (never the event loop's). Idempotent."""
    global _warm
    litellm = load_litellm()
    with _lock:
        if _warm:
            return
        # litellm's first call imports ~500 more modules (~0.7 s); a mock streamed call (no
        # request is sent) does that here, off the event loop.
        try:
            for _ in litellm.completion(
                model="openai/warm-up", messages=[{"role": "user", "content": "warm up"}],
                mock_response="ok", stream=True, stream_options={"include_usage": True},
                api_key="warm-up", api_base="http://127.0.0.1:9/v1",
                num_retries=0, max_retries=0,
            ):
                pass
        except Exception:  # noqa: BLE001 - only an optimisation: the real call still works
            pass
        _settle_heap()
        _warm = True


def _settle_heap() -> None:
    """Keep litellm's ~300,000 long-lived objects out of the garbage collector's way.

    Left in the collector's oldest generation, they make each full collection take 0.2-0.5 s
    with the GIL held: the event loop (the UI, every stream) stalls that long at some
    arbitrary later moment. Collected once here, in the loading thread, then frozen.
    """
    gc.collect()
    gc.freeze()


def _quieten(litellm: ModuleType) -> None:
    litellm.suppress_debug_info = True  # its "Provider List: ..." prints go to stdout
    litellm.set_verbose = False
    litellm.turn_off_message_logging = True
    if hasattr(litellm, "telemetry"):
        litellm.telemetry = False
    for name in _LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.WARNING)
        logger.propagate = False
