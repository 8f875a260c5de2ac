"""rlm-tui: run Recursive Language Models on a repository, watch and steer the run live."""

__version__ = "0.1.0"
