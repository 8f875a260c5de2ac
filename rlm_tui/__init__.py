"""rlm-tui: run Recursive Language Models on a repository, watch and steer the run live."""

__version__ = "0.1.0"

import logging as _logging

# Library warnings (a bad line in a .gitignore, say) are for log handlers the program sets up;
# without one they must not reach the terminal unprefixed.
_logging.getLogger("rlm_tui").addHandler(_logging.NullHandler())
