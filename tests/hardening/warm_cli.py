"""A process that loads rlm-tui and litellm once, then forks one `rlm-tui` command per request.

Every `rlm-tui run` spends ~2.5 s of CPU importing litellm before it writes a byte; twenty of
them cost a minute on two cores. A fork of a process that already holds those imports starts
in milliseconds and then runs `rlm_tui.cli.main(argv)` exactly as the installed command does,
in its own process, with its own workers (whose parent-death signal points at it).

Protocol, one JSON object per line: send {"argv": [...], "env": {...}, "stdout": PATH,
"stderr": PATH}; receive {"pid": N}. Children are reaped by the kernel (SIGCHLD ignored
here, restored in each child so that its own subprocess waits work).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile


def _child(request: dict) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    code = 70
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # TMPDIR may differ from the launcher's
        from rlm_tui.cli import main

        code = main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a traceback on the child's stderr is the report
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def serve() -> None:
    import rlm_tui.cli  # noqa: F401
    import rlm_tui.headless  # noqa: F401
    from rlm_tui.lm import load_litellm
    from rlm_tui.lm.openai_stream import load_aiohttp

    load_litellm()
    load_aiohttp()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"pid": pid}), flush=True)


if __name__ == "__main__":
    serve()
