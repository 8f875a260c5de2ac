"""rlm-tui: run Recursive Language Models on a repository, watch and steer the run live."""

__version__ = "0.1.0"

import os as _os
import sys as _sys

# `python -m rlm_tui` puts the current directory first on the module path, as CPython does for
# -m: inside an untrusted repository, its `logging.py` or `json.py` would be imported as the
# standard library's. The entry is taken off while the package is found (sys.argv[0] is "-m"
# then), before anything else is imported; the package's own modules are found through it.
# (A directory named rlm_tui there would be imported instead of this package: see the README.)
def _working_directory_off_the_path() -> None:
    try:
        here = _os.getcwd()
    except OSError:  # removed since: nothing there to import from either
        here = None
    if _sys.argv[:1] == ["-m"] and _sys.path and _sys.path[0] in ("", here):
        del _sys.path[0]


_working_directory_off_the_path()

import logging as _logging  # noqa: E402

# Library warnings (a bad line in a .gitignore, say) are for log handlers the program sets up;
# without one they must not reach the terminal unprefixed.
_logging.getLogger("rlm_tui").addHandler(_logging.NullHandler())
