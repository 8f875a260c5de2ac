"""The eval's summary: one object (--json), a table (stdout), summary.md and summary.html,
with the RLM and the baseline side by side and a row per task."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from rlm_tui.eval.results import FINISHED_STATUSES
from rlm_tui.eval.tasks import Task
from rlm_tui.units import format_percent, format_seconds, format_tokens

ANSWER_SHOWN = 80  # characters of an answer in a row of the summary


def _side(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals of one side (the RLM's records, or the baselines')."""
    scored = [r for r in records if r.get("status") in FINISHED_STATUSES]
    correct = sum(1 for r in scored if r.get("correct"))
    prompt = sum((r.get("tokens") or {}).get("prompt", 0) for r in records)
    completion = sum((r.get("tokens") or {}).get("completion", 0) for r in records)
    cached = sum((r.get("tokens") or {}).get("cached", 0) for r in records)
    written = sum((r.get("tokens") or {}).get("cache_write", 0) for r in records)
    estimated = any((r.get("tokens") or {}).get("estimated") for r in records)
    costs = [r.get("cost_usd") for r in records if r.get("status") != "error"]
    known = [c for c in costs if c is not None]
    return {
        "tasks": len(records), "ran": len(scored), "correct": correct,
        "accuracy": round(correct / len(scored), 4) if scored else None,
        "cost_usd": round(sum(known), 6) if known else None,
        "cost_complete": len(known) == len(costs),
        "tokens": {"prompt": prompt, "completion": completion, "total": prompt + completion,
                   "cached": cached, "cache_write": written, "estimated": estimated},
        "seconds": round(sum(r.get("seconds") or 0.0 for r in records), 3),
    }


def summarize(tasks: list[Task], records: dict[str, dict[str, Any]], *, baseline: bool,
              out: Path, wall_seconds: float, stop_reason: str | None) -> dict[str, Any]:
    """The --json object: the RLM's totals (over the tasks with a record), `baseline` when
    asked, and what did not run. Accuracy is over the tasks that ran."""
    done = [records[t.id] for t in tasks if t.id in records]
    summary = _side(done)
    summary["tasks"] = len(tasks)
    summary["could_not_run"] = [r["id"] for r in done if r.get("status") not in
                                FINISHED_STATUSES]
    summary["not_started"] = [t.id for t in tasks if t.id not in records]
    summary["stopped"] = stop_reason
    summary["wall_seconds"] = round(wall_seconds, 3)
    summary["out"] = str(out)
    if baseline:
        plain = [r["baseline"] for r in done if r.get("baseline")]
        summary["baseline"] = _side(plain)
        summary["baseline"]["cut"] = sum(1 for b in plain if b.get("cut"))
    return summary


def _cost(side: dict[str, Any]) -> str:
    if side["cost_usd"] is None:
        return "cost unknown"
    return f"${side['cost_usd']:,.4f}" + ("" if side["cost_complete"] else " + unpriced")


def _accuracy(side: dict[str, Any]) -> str:
    if not side["ran"]:
        return "—"
    return f"{side['correct']}/{side['ran']} ({format_percent(side['accuracy'])})"


def _rows(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(measure, RLM, baseline) rows of the totals table."""
    rlm, plain = summary, summary.get("baseline")

    def both(render: Any) -> tuple[str, str]:
        return render(rlm), render(plain) if plain else ""

    def tokens(side: dict[str, Any]) -> str:
        return format_tokens(side["tokens"]["total"], estimated=side["tokens"]["estimated"])

    return [("accuracy", *both(_accuracy)), ("cost", *both(_cost)),
            ("tokens", *both(tokens)),
            ("time (sum of tasks)", *both(lambda s: format_seconds(s["seconds"])))]


def render_table(summary: dict[str, Any], title: str) -> str:
    """The stdout summary: totals, RLM and baseline side by side, and what did not run."""
    rows = _rows(summary)
    heads = ("", "RLM", "baseline" if summary.get("baseline") else "")
    width = [max(len(r[i]) for r in [heads, *rows]) for i in range(3)]
    lines = [title, ""]
    for row in [heads, *rows]:
        lines.append("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)).rstrip())
    if summary.get("baseline", {}).get("cut"):
        lines.append(f"(the baseline's context was cut to the model's window in "
                     f"{summary['baseline']['cut']} of {summary['baseline']['tasks']} tasks)")
    if summary["could_not_run"]:
        shown = ", ".join(summary["could_not_run"][:20])
        more = len(summary["could_not_run"]) - 20
        lines.append(f"could not run: {shown}" + (f" and {more} more" if more > 0 else ""))
    if summary["not_started"]:
        lines.append(f"not started: {len(summary['not_started'])}"
                     + (f" ({summary['stopped']})" if summary["stopped"] else ""))
    lines.append(f"wall time {format_seconds(summary['wall_seconds'])} · results in "
                 f"{summary['out']}")
    return "\n".join(lines)


def _short(text: Any) -> str:
    text = "—" if text is None else " ".join(str(text).split())
    return text if len(text) <= ANSWER_SHOWN else text[:ANSWER_SHOWN - 1] + "…"


def _mark(record: dict[str, Any] | None) -> str:
    if not record:
        return ""
    if record.get("status") not in FINISHED_STATUSES:
        return f"✗ {record.get('status')}"
    return "✓" if record.get("correct") else "✗"


def _task_rows(tasks: list[Task], records: dict[str, dict[str, Any]], baseline: bool,
               ) -> list[list[str]]:
    rows = []
    for task in tasks:
        r = records.get(task.id)
        if r is None:
            rows.append([task.id, "not run", "", "", "", "", ""] + (["", ""] if baseline else []))
            continue
        tokens = format_tokens((r.get("tokens") or {}).get("total", 0),
                               estimated=(r.get("tokens") or {}).get("estimated", False))
        cost = "—" if r.get("cost_usd") is None else f"${r['cost_usd']:,.4f}"
        row = [task.id, _short(r.get("answer") or r.get("reason")), _mark(r),
               f"{r.get('score', 0):g}", cost, tokens, format_seconds(r.get("seconds"))]
        if baseline:
            b = r.get("baseline") or {}
            cut = " (cut)" if b.get("cut") else ""
            row += [_short(b.get("answer") or b.get("reason")) + cut, _mark(b)]
        rows.append(row)
    return rows


def _headers(baseline: bool) -> list[str]:
    heads = ["task", "RLM answer", "right", "score", "cost", "tokens", "time"]
    return heads + (["baseline answer", "right"] if baseline else [])


def render_markdown(summary: dict[str, Any], tasks: list[Task],
                    records: dict[str, dict[str, Any]], title: str) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    baseline = "baseline" in summary
    lines = [f"# {cell(title)}", "", "| | RLM | baseline |" if baseline else "| | RLM |",
             "| --- | --- | --- |" if baseline else "| --- | --- |"]
    for measure, rlm, plain in _rows(summary):
        lines.append(f"| {measure} | {rlm} |" + (f" {plain} |" if baseline else ""))
    lines += ["", f"Wall time {format_seconds(summary['wall_seconds'])}; "
              f"{len(summary['could_not_run'])} could not run, "
              f"{len(summary['not_started'])} not started."
              + (f" Stopped: {summary['stopped']}." if summary["stopped"] else ""), "",
              "## Tasks", ""]
    heads = _headers(baseline)
    lines += ["| " + " | ".join(heads) + " |", "|" + " --- |" * len(heads)]
    for row in _task_rows(tasks, records, baseline):
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def render_html(summary: dict[str, Any], tasks: list[Task],
                records: dict[str, dict[str, Any]], title: str) -> str:
    esc = html.escape
    baseline = "baseline" in summary
    totals = "".join(f"<tr><th>{esc(m)}</th><td>{esc(a)}</td>"
                     + (f"<td>{esc(b)}</td>" if baseline else "") + "</tr>"
                     for m, a, b in _rows(summary))
    heads = "".join(f"<th>{esc(h)}</th>" for h in _headers(baseline))
    body = []
    for task, row in zip(tasks, _task_rows(tasks, records, baseline), strict=True):
        record = records.get(task.id) or {}
        link = record.get("transcript")
        name = (f'<a href="transcripts/{esc(Path(link).name)}">{esc(row[0])}</a>' if link
                else esc(row[0]))
        body.append("<tr><td>" + name + "</td>"
                    + "".join(f"<td>{esc(c)}</td>" for c in row[1:]) + "</tr>")
    style = ("body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;"
             "margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;"
             "text-align:left;vertical-align:top}th{background:#f4f4f4}")
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{esc(title)}"
            f"</title><style>{style}</style></head><body>\n<h1>{esc(title)}</h1>\n"
            f"<table><tr><th></th><th>RLM</th>{'<th>baseline</th>' if baseline else ''}"
            f"</tr>{totals}</table>\n<p>Wall time {esc(format_seconds(summary['wall_seconds']))}"
            f"; {len(summary['could_not_run'])} could not run, "
            f"{len(summary['not_started'])} not started.</p>\n<h2>Tasks</h2>\n"
            f"<table><tr>{heads}</tr>\n" + "\n".join(body) + "\n</table>\n</body></html>\n")


def write_summaries(out: Path, summary: dict[str, Any], tasks: list[Task],
                    records: dict[str, dict[str, Any]], title: str) -> None:
    """summary.md and summary.html in the eval's directory."""
    (out / "summary.md").write_text(render_markdown(summary, tasks, records, title),
                                    encoding="utf-8")
    (out / "summary.html").write_text(render_html(summary, tasks, records, title),
                                      encoding="utf-8")
