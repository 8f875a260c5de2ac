"""`rlm-tui eval`: many tasks as independent sessions, scored, resumable, summarised; with a
plain-model baseline, and on Ray past one machine.

    tasks.py     the tasks file, checked whole before any model call
    scorers.py   exact, contains, number, f1, regex
    suites.py    generated tasks with known answers (sniah, oolong, pairs)
    task_run.py  one task: its context, its run (as `rlm-tui run`), its score, its baseline
    baseline.py  the root model once, the context in its prompt, cut to its window
    runner.py    N tasks at once under one budget; the in-process executor
    ray_runner.py  the Ray executor (optional extra rlm-tui[ray])
    results.py   results.jsonl, appended per task, read back to resume
    report.py    the summary: --json, the table, summary.md, summary.html
    progress.py  the live line on stderr
    command.py   the command, wired
"""
