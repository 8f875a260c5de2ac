"""Run every bench script, one after another, and print one table: figure, value, goal, met.

    .venv/bin/python bench/run_all.py            # each script with its default arguments
    .venv/bin/python bench/run_all.py --quick    # shorter runs (fewer rounds and repeats)
    .venv/bin/python bench/run_all.py --only engine --only tui --markdown

Each script runs in its own process (so its figures are its own), with its output captured
and read back by a small parser per script. A script whose output cannot be read, or that
fails, is not lost: its own output is printed under a heading after the table. Scripts that
appear in bench/ later run too, shown that way until they get a parser. bench_engine.py
creates its rlms venv by itself on first use (that needs the network once), and
bench_startup.py uses it too; --no-rlms skips both comparisons. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# The order they run in; any other bench_*.py runs after these.
ORDER = ("bench_sandbox.py", "bench_context.py", "bench_engine.py", "bench_startup.py",
         "bench_export.py", "bench_tui.py", "bench_stream_cpu.py", "bench_fork.py",
         "bench_eval.py", "bench_api.py", "bench_mcp.py", "bench_tools.py", "bench_watch.py",
         "bench_otel.py", "bench_cache.py", "bench_compaction.py", "bench_serve.py")
QUICK_ARGS = {
    "bench_sandbox.py": ["--rounds", "100"],
    "bench_context.py": ["--runs", "1"],
    "bench_engine.py": ["--iterations", "10", "--repeat", "1"],
    "bench_startup.py": ["--repeat", "2"],
    "bench_export.py": ["--iterations", "200", "--repeat", "2"],
    "bench_tui.py": ["--quick"],
    "bench_stream_cpu.py": ["--quick"],
    "bench_fork.py": ["--repeat", "1"],
    "bench_eval.py": ["--tasks", "16"],
    "bench_api.py": ["--repeat", "3"],
    "bench_mcp.py": ["--repeat", "3"],
    "bench_tools.py": ["--repeat", "10"],
    "bench_watch.py": ["--seconds", "3", "--burst", "5000"],
    "bench_otel.py": ["--rounds", "50"],
    "bench_compaction.py": ["--iterations", "60"],
    "bench_serve.py": ["--repeat", "2"],
}
SCRIPT_TIMEOUT_S = 3600


@dataclass
class Row:
    figure: str
    value: str
    goal: str = ""
    met: str = ""  # yes | NO | "" (no goal)


@dataclass
class Result:
    script: str
    args: list[str]
    returncode: int | None  # None: timed out
    seconds: float
    stdout: str
    stderr: str
    rows: list[Row]
    parse_error: str | None = None


# -- parsers: one per script's printed format ------------------------------------------------

_NUMBER = r"-?[\d,]*\.?\d+"


def _met(value: float, op: str, goal: float) -> str:
    ok = {"<": value < goal, "<=": value <= goal, ">": value > goal, ">=": value >= goal}[op]
    return "yes" if ok else "NO"


def _float(text: str) -> float:
    return float(text.replace(",", ""))


def parse_sandbox(out: str) -> list[Row]:
    """`figure  value  < goal  met|MISSED` under a `figure value goal` header."""
    rows = []
    pattern = re.compile(rf"^(?P<name>.+?)\s{{2,}}(?P<value>{_NUMBER})"
                         r"(?:\s+<\s*(?P<goal>\S+)\s+(?P<verdict>met|MISSED))?\s*$")
    for line in out.splitlines():
        match = pattern.match(line)
        if match is None:
            continue
        name, unit = match["name"], ""
        unit_match = re.search(r"\s*\((\w+)\)$", name)
        if unit_match:
            name, unit = name[: unit_match.start()], " " + unit_match[1]
        goal = f"< {match['goal']}{unit}" if match["goal"] else ""
        met = {"met": "yes", "MISSED": "NO"}.get(match["verdict"] or "", "")
        rows.append(Row(name, match["value"] + unit, goal, met))
    return rows


_GOAL_NOTE = re.compile(
    rf"(?P<value>{_NUMBER})\s*(?P<unit>x|s|ms)\b[^()]*"
    rf"\(goal (?P<op><=|>=|<|>) (?P<goal>{_NUMBER})\s*(?P=unit)\)")


def parse_context(out: str) -> list[Row]:
    """`name  value  note` rows; a goal sits in the note as `N<unit> ... (goal OP M<unit>)`."""
    rows = []
    for line in out.splitlines():
        parts = re.split(r"\s{2,}", line.strip(), maxsplit=2)
        if len(parts) < 2:
            continue
        name, value = parts[0], parts[1]
        note = parts[2] if len(parts) > 2 else ""
        match = _GOAL_NOTE.search(note)
        if match is None:
            rows.append(Row(name, f"{value} ({note})" if note else value))
            continue
        unit = match["unit"]
        goal = f"{match['op']} {match['goal']}{unit if unit == 'x' else ' ' + unit}"
        shown = value
        if unit == "x":  # a ratio to a baseline named after it: "1.2x cat", "0.3x text"
            base = re.match(r"\s*(\w+)", note[match.end("unit"):])
            base_name = f" {base[1]}" if base and base[1] != "goal" else ""
            shown = f"{value} ({match['value']}x{base_name})"
            goal += base_name
        elif "per 100 MB" in note[:match.start("op")]:  # a rate: seconds per 100 MB
            shown = f"{value} ({match['value']} s per 100 MB)"
            goal += " per 100 MB"
        elif not value.endswith(f" {unit}"):  # the goal is on another measure of the row
            shown = f"{value} ({match['value']} {unit} with start-up)"
        rows.append(Row(name, shown, goal,
                        _met(_float(match["value"]), match["op"], _float(match["goal"]))))
    return rows


def parse_engine(out: str) -> list[Row]:
    """An `engine  ms/iteration  fan-out  x ideal` table, a goal line and a ratio line."""
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("engine"))
    goal_line = next(line for line in lines if line.startswith("goal:"))
    ms_goal = _float(re.search(rf"ms/iteration < ({_NUMBER})", goal_line)[1])
    fan_goal = _float(re.search(rf"within ({_NUMBER})x of ideal", goal_line)[1])
    row_pattern = re.compile(
        rf"^(?P<name>\S+(?: \S+)?)\s+(?P<ms>{_NUMBER})\s+(?P<fan>{_NUMBER})\s+(?P<x>{_NUMBER})$")
    rows = []
    for line in lines[header + 1:]:
        match = row_pattern.match(line.strip())
        if match is None:
            continue
        ours = match["name"].startswith("ours")
        rows.append(Row(f"{match['name']}: overhead per iteration", f"{match['ms']} ms",
                        f"< {ms_goal:g} ms" if ours else "reference",
                        _met(_float(match["ms"]), "<", ms_goal) if ours else ""))
        rows.append(Row(f"{match['name']}: fan-out of 256 sub-calls",
                        f"{match['fan']} s ({match['x']}x ideal)",
                        f"<= {fan_goal:g}x ideal" if ours else "reference",
                        _met(_float(match["x"]), "<=", fan_goal) if ours else ""))
    for line in lines:
        if not line.startswith("ratio"):
            continue
        for label, value, op, goal in re.findall(
                rf"(per iteration|fan-out) ({_NUMBER})x \(goal (>=|<=|<|>) ({_NUMBER})\)", line):
            rows.append(Row(f"rlms / ours, {label}", f"{value}x", f"{op} {goal}x",
                            _met(_float(value), op, _float(goal))))
    if not rows:
        raise ValueError("no engine rows")
    return rows


def parse_export(out: str) -> list[Row]:
    """A `session: ...` line, then `  step  N ms ...` lines (no goals in this script)."""
    rows = []
    session = next((line for line in out.splitlines() if line.startswith("session:")), "")
    if session:
        rows.append(Row("session", session.removeprefix("session: ")))
    for line in out.splitlines():
        match = re.match(rf"^\s+(?P<step>[\w-]+)\s+(?P<ms>{_NUMBER}) ms(?P<rest>.*)$", line)
        if match is None:
            continue
        rest = match["rest"].strip().strip("()").strip()
        total = re.search(rf"read \+ fold \+ export\s+({_NUMBER}) ms", rest)
        value = f"{match['ms']} ms"
        if total:
            value += f" (read + fold + export {total[1]} ms)"
        elif rest:
            value += f" ({rest})"
        name = match["step"] if match["step"] in ("read", "fold") else f"export {match['step']}"
        rows.append(Row(name, value))
    return rows


def parse_fork(out: str) -> list[Row]:
    recorded = re.search(r"recorded session: (?P<it>\d+) iterations, (?P<calls>\d+) sub-calls",
                         out)
    rebuild = re.search(r"rebuild to iteration \d+: (?P<s>[\d.]+) s", out)
    calls = re.search(r"model calls during the rebuilds: (?P<n>\d+)", out)
    if not (recorded and rebuild and calls):
        raise ValueError("no fork figures")
    what = f"{recorded['it']} iterations, {recorded['calls']} sub-calls"
    return [Row(f"rebuild of {what}", f"{rebuild['s']} s"),
            Row("model calls during the rebuild", calls["n"], "0",
                "yes" if calls["n"] == "0" else "NO")]


def parse_tui(out: str) -> list[Row]:
    """`  name  value   goal G   ok|MISSED` rows."""
    pattern = re.compile(
        r"^\s+(?P<name>.+?)\s+(?P<value>p50 \S+ / max \S+ \w+|[\d.,]+ \w+)"
        r"\s+goal (?P<goal>.+?)\s+(?P<ok>ok|MISSED)\s*$")
    rows = []
    for line in out.splitlines():
        match = pattern.match(line)
        if match:
            rows.append(Row(match["name"], match["value"], match["goal"],
                            "yes" if match["ok"] == "ok" else "NO"))
    return rows


def parse_stream_cpu(out: str) -> list[Row]:
    """`at N chunks/s:` headings over `  who  X% of a core  Y µs/char  ...  [goal G  ok|MISSED]`
    rows (their segments below them are left to the raw output), and a per-character line."""
    rows = []
    rate = ""
    for line in out.splitlines():
        heading = re.match(r"^at ([\d,]+) chunks/s:", line)
        if heading:
            rate = heading[1]
            continue
        match = re.match(rf"^  (?P<who>the app|headless[^\d]*?)\s+(?P<share>{_NUMBER})% of a core"
                         rf"\s+(?P<per>{_NUMBER}) µs/char(?P<rest>.*)$", line)
        if match:
            goal = re.search(r"goal (<= [\d.]+%)\s+(ok|MISSED)", match["rest"])
            rows.append(Row(f"{match['who'].strip()} CPU at {rate} chunks/s",
                            f"{match['share']}% of a core ({match['per']} µs/char)",
                            goal[1] if goal else "",
                            ("yes" if goal[2] == "ok" else "NO") if goal else ""))
        per_char = re.match(r"^  the app's CPU per character, 2,000 vs 25 chunks/s: "
                            r"(?P<fast>[\d.]+) vs (?P<slow>[\d.]+) µs\s+goal no more\s+"
                            r"(?P<ok>ok|MISSED)", line)
        if per_char:
            rows.append(Row("the app's CPU per character, 2,000 vs 25 chunks/s",
                            f"{per_char['fast']} vs {per_char['slow']} µs", "no more",
                            "yes" if per_char["ok"] == "ok" else "NO"))
    return rows


def parse_startup(out: str) -> list[Row]:
    """`figure  value  goal  met` rows under a `figure value goal met` header."""
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("figure"))
    rows = []
    for line in lines[header + 1:]:
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) < 2:
            continue
        goal = parts[2] if len(parts) > 2 else ""
        met = parts[3] if len(parts) > 3 else ""
        rows.append(Row(parts[0], parts[1], goal, met))
    if not rows:
        raise ValueError("no start-up rows")
    return rows


def parse_eval(out: str) -> list[Row]:
    """A `run  tasks/min  eval s  process s  correct  peak MB` table, then `memory per
    concurrent task, ...: N MB (...)` lines (no goals in this script)."""
    rows = []
    pattern = re.compile(rf"^(?P<run>--\S+(?: --\S+)*(?: \d+)?)\s+(?P<rate>{_NUMBER})\s+"
                         rf"(?P<eval>{_NUMBER})\s+(?P<whole>{_NUMBER})\s+(?P<right>\d+/\d+)\s+"
                         rf"(?P<peak>{_NUMBER})$")
    for line in out.splitlines():
        match = pattern.match(line.strip())
        if match:
            rows.append(Row(f"tasks per minute, {match['run']}",
                            f"{match['rate']} ({match['eval']} s; process {match['whole']} s; "
                            f"{match['right']} right; peak {match['peak']} MB)"))
        memory = re.match(rf"^memory per concurrent task, (?P<where>[^:]+): "
                          rf"(?P<mb>{_NUMBER}) MB", line)
        if memory:
            rows.append(Row(f"memory per concurrent task, {memory['where']}",
                            f"{memory['mb']} MB"))
        task = re.match(rf"^one task, (?P<run>[^:]+): median (?P<median>{_NUMBER}) s, "
                        rf"slowest (?P<slowest>{_NUMBER}) s", line)
        if task:
            rows.append(Row(f"one task, {task['run']}",
                            f"median {task['median']} s, slowest {task['slowest']} s"))
    return rows


def parse_otel(out: str) -> list[Row]:
    """`cost per event: fold alone A us, with --otel B us (+C us), ...` and, when Phoenix ran,
    `phoenix: spans found N / expected M ...` and `phoenix: tree matches ...: yes|no`."""
    cost = re.search(rf"fold alone (?P<fold>{_NUMBER}) us, with --otel (?P<otel>{_NUMBER}) us "
                     rf"\(\+(?P<added>{_NUMBER}) us\)", out)
    if not cost:
        raise ValueError("no otel figures")
    rows = [Row("cost per event, added", f"{cost['added']} us (fold alone "
                f"{cost['fold']} us, with spans {cost['otel']} us)", "<= 50 us",
                _met(_float(cost["added"]), "<=", 50))]
    found = re.search(r"phoenix: spans found (?P<found>\d+) / expected (?P<expected>\d+)", out)
    tree = re.search(r"phoenix: tree matches the session tree: (?P<match>yes|no)", out)
    if found and tree:
        rows.append(Row("Phoenix: spans read back", f"{found['found']} of "
                        f"{found['expected']}", "all", "yes" if found["found"] ==
                        found["expected"] else "NO"))
        rows.append(Row("Phoenix: tree is the session tree", tree["match"], "yes",
                        "yes" if tree["match"] == "yes" else "NO"))
    elif "phoenix: not found" in out:
        rows.append(Row("Phoenix check", "skipped (no phoenix: --phoenix EXE)"))
    return rows


PARSERS: dict[str, Callable[[str], list[Row]]] = {
    "bench_sandbox.py": parse_sandbox,
    "bench_tools.py": parse_sandbox,  # the same table
    "bench_context.py": parse_context,
    "bench_engine.py": parse_engine,
    "bench_startup.py": parse_startup,
    "bench_api.py": parse_startup,  # the same `figure value goal met` table
    "bench_mcp.py": parse_startup,
    "bench_watch.py": parse_startup,
    "bench_compaction.py": parse_startup,  # the same `figure value goal met` table
    "bench_serve.py": parse_startup,
    "bench_export.py": parse_export,
    "bench_tui.py": parse_tui,
    "bench_stream_cpu.py": parse_stream_cpu,
    "bench_fork.py": parse_fork,
    "bench_eval.py": parse_eval,
    "bench_otel.py": parse_otel,
    "bench_cache.py": parse_startup,  # the same `figure value goal met` table
}


# -- running -----------------------------------------------------------------------------------

def scripts(only: list[str]) -> list[Path]:
    found = {p.name: p for p in BENCH.glob("bench_*.py")}
    ordered = [found.pop(name) for name in ORDER if name in found] + sorted(found.values())
    if only:
        wanted = {o if o.startswith("bench_") else f"bench_{o}" for o in only}
        wanted = {w if w.endswith(".py") else f"{w}.py" for w in wanted}
        ordered = [p for p in ordered if p.name in wanted]
    return ordered


def run_script(path: Path, args: list[str]) -> Result:
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, str(path), *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=SCRIPT_TIMEOUT_S)
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code = None
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
    result = Result(path.name, args, code, time.monotonic() - started, out, err, [])
    parser = PARSERS.get(path.name)
    if code == 0 and parser is not None:
        try:
            result.rows = parser(out)
            if not result.rows:
                result.parse_error = "no figures found in its output"
        except Exception as exc:  # noqa: BLE001 - the raw output is shown instead
            result.parse_error = f"{type(exc).__name__}: {exc}"
    elif code == 0:
        result.parse_error = "no parser for this script yet"
    return result


# -- the machine -------------------------------------------------------------------------------

def machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
                break
    except OSError:
        pass
    return [
        ("CPU", cpu),
        ("cores", f"{cores}" + (f" ({usable} usable by this process)" if usable != cores else "")),
        ("memory", memory),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()}, "
                   f"{sys.executable})"),
        ("kernel", f"{platform.system()} {platform.release()}"),
    ]


# -- printing ----------------------------------------------------------------------------------

def table(results: list[Result], *, markdown: bool) -> list[str]:
    header = ("figure", "value", "goal", "met?")
    body: list[tuple[str, str, str, str]] = []
    for result in results:
        bench = result.script.removeprefix("bench_").removesuffix(".py")
        if result.returncode != 0:
            status = ("timed out" if result.returncode is None
                      else f"failed (exit {result.returncode})")
            body.append((f"{bench}: {status}", "see its output below", "", ""))
            continue
        if not result.rows:
            body.append((f"{bench}: its own table below", result.parse_error or "", "", ""))
            continue
        for row in result.rows:
            body.append((f"{bench}: {row.figure}", row.value, row.goal, row.met))
    if markdown:
        def cell(text: str) -> str:
            return text.replace("|", "\\|")

        lines = ["| " + " | ".join(header) + " |", "| --- | ---: | --- | --- |"]
        lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in body]
        return lines
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(4)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for r in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="shorter runs: fewer rounds, repeats and iterations per script")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this script (e.g. engine or bench_engine.py); repeatable")
    parser.add_argument("--no-rlms", action="store_true",
                        help="bench_engine and bench_startup without the rlms comparison "
                        "(no venv, no network)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--raw", action="store_true",
                        help="also print every script's own output after the table")
    args = parser.parse_args()

    chosen = scripts(args.only)
    if not chosen:
        parser.error(f"no bench script matches {args.only}")
    results = []
    for number, path in enumerate(chosen, 1):
        script_args = list(QUICK_ARGS.get(path.name, [])) if args.quick else []
        if args.no_rlms and path.name in ("bench_engine.py", "bench_startup.py"):
            script_args.append("--skip-rlms")
        shown = " ".join([path.name, *script_args])
        print(f"[{number}/{len(chosen)}] {shown} ...", file=sys.stderr, flush=True)
        result = run_script(path, script_args)
        results.append(result)
        state = "ok" if result.returncode == 0 else "FAILED"
        print(f"[{number}/{len(chosen)}] {path.name}: {state} in {result.seconds:.1f} s",
              file=sys.stderr, flush=True)

    print("machine")
    for name, value in machine():
        print(f"  {name:<7} {value}")
    mode = "--quick" if args.quick else "default arguments"
    print(f"\nresults ({mode}; {sum(r.seconds for r in results):.0f} s in all)\n")
    for line in table(results, markdown=args.markdown):
        print(line)
    for result in results:
        if not (args.raw or result.returncode != 0 or not result.rows):
            continue
        status = ("timed out" if result.returncode is None else f"exit {result.returncode}")
        why = f"; {result.parse_error}" if result.parse_error else ""
        print(f"\n== {' '.join([result.script, *result.args])} ({status}{why}) ==")
        print(result.stdout.rstrip() or "(no output)")
        if result.returncode != 0 and result.stderr.strip():
            print("-- stderr --")
            print(result.stderr.rstrip()[-4000:])
    return 0 if all(r.returncode == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
