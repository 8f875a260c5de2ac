"""What the Python API costs a program that imports it and calls it.

1. `import rlm_tui`: wall time in a fresh interpreter (median of --repeat), the modules it
   adds to the interpreter's own, and whether litellm, Textual, Ray or pydantic came with it.
   Goal: < 30 ms, none of the four.
2. First use of the API (`rlm_tui.ask`, which imports the engine): the same figures. Goal:
   no litellm, Textual or Ray.
3. `rlm_tui.ask(...)` with the offline demo model on a small file, in-process, after a first
   warm call: the whole session (load, worker start, 4 iterations, close). Not a goal: what a
   program pays per question asked in a session of its own.

    .venv/bin/python bench/bench_api.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("litellm", "textual", "ray", "pydantic", "aiohttp")

_PROBE = """
import sys, time, json
base = set(sys.modules)
t = time.perf_counter()
import rlm_tui
imported = time.perf_counter() - t
after_import = set(sys.modules)
t = time.perf_counter()
rlm_tui.ask
first_use = time.perf_counter() - t
after_use = set(sys.modules)
heavy = {heavy!r}
print(json.dumps({{
    "import_s": imported, "import_modules": len(after_import - base),
    "import_heavy": [m for m in heavy if m in after_import],
    "use_s": first_use, "use_modules": len(after_use - after_import),
    "use_heavy": [m for m in heavy if m in after_use],
}}))
"""


def probe(repeat: int) -> dict:
    runs = []
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY)], cwd=ROOT,
                             env=env, capture_output=True, text=True, check=True).stdout
        runs.append(json.loads(out))
    return {"import_s": statistics.median(r["import_s"] for r in runs),
            "use_s": statistics.median(r["use_s"] for r in runs),
            **{k: runs[-1][k] for k in ("import_modules", "import_heavy", "use_modules",
                                        "use_heavy")}}


def demo_session(repeat: int) -> float:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import rlm_tui

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "notes.py"
        path.write_text("def handler():\n    return 'ok'\n" * 50)
        rlm_tui.ask("What is here?", context=path, model="demo", transcript=False)  # warm
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            result = rlm_tui.ask("What is here?", context=path, model="demo",
                                 transcript=False)
            times.append(time.perf_counter() - started)
            assert result.status == "answered", result
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    figures = probe(args.repeat)
    session_s = demo_session(max(1, args.repeat // 2))
    rows = [
        ("import rlm_tui", f"{figures['import_s'] * 1000:.1f} ms", "< 30 ms",
         figures["import_s"] < 0.030),
        ("import rlm_tui: modules added", str(figures["import_modules"]), "", None),
        ("import rlm_tui: litellm/textual/ray/pydantic/aiohttp",
         ", ".join(figures["import_heavy"]) or "none", "none", not figures["import_heavy"]),
        ("first use of rlm_tui.ask", f"{figures['use_s'] * 1000:.0f} ms", "", None),
        ("first use: modules added", str(figures["use_modules"]), "", None),
        ("first use: litellm/textual/ray",
         ", ".join(m for m in figures["use_heavy"] if m in ("litellm", "textual", "ray"))
         or "none", "none",
         not any(m in ("litellm", "textual", "ray") for m in figures["use_heavy"])),
        ("rlm_tui.ask, demo model, one session", f"{session_s:.3f} s", "", None),
    ]
    print(f"{'figure':<54}  {'value':<14}  {'goal':<8}  met")
    for figure, value, goal, met in rows:
        shown = "" if met is None else ("yes" if met else "NO")
        print(f"{figure:<54}  {value:<14}  {goal:<8}  {shown}".rstrip())


if __name__ == "__main__":
    main()
