"""Where control sockets live, and the checks that keep them the user's own: a directory
`rlm-tui` in the user's runtime dir (platformdirs; $XDG_RUNTIME_DIR on Linux, else its own
fallback, `runtime-<uid>` in the temporary dir, which it checks and makes 0700), mode 0700 and
owned by the user; each socket in it mode 0600 and owned by the user. Anything looser, a
symlink, or another owner is refused, never repaired: another user may have made it."""

from __future__ import annotations

import os
import re
import stat
import uuid
import warnings
from pathlib import Path

from rlm_tui.errors import InputError

DIR_MODE = 0o700
SOCKET_MODE = 0o600
# sockaddr_un's sun_path: 108 bytes on Linux, 104 on macOS and the BSDs (with the NUL).
MAX_SOCKET_PATH = 103
_SOCKET_NAME = re.compile(r"(\d{1,10})-[0-9a-f]{8}\.sock")


class SocketPathError(InputError):
    """A control socket's directory or file that is not the user's own, or cannot be made."""


def runtime_dir() -> Path:
    """The user's runtime dir for rlm-tui (not created). SocketPathError when platformdirs
    finds none it trusts (its fallback owned by another user), or on a system without Unix
    sockets and uids (Windows)."""
    import socket

    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "geteuid"):
        raise SocketPathError("control sockets need Unix sockets and user ids (not Windows)")
    from platformdirs import user_runtime_path

    try:
        with warnings.catch_warnings():
            # "XDG_RUNTIME_DIR is not set, falling back to ...": the fallback is checked, and
            # a run says nothing about it on every start.
            warnings.simplefilter("ignore")
            return user_runtime_path("rlm-tui")
    except (OSError, RuntimeError) as exc:
        raise SocketPathError(f"no runtime directory: {exc}") from None


def problem_with(path: Path, *, kind: str, mode: int, uid: int | None = None) -> str | None:
    """Why `path` is not the user's own `kind` ("directory" or "socket") with exactly `mode`
    (no bit for group or others), or None when it is. A symlink is refused, never followed."""
    uid = os.geteuid() if uid is None else uid
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return f"{path} does not exist"
    except OSError as exc:
        return f"{path} cannot be checked: {exc.strerror or exc}"
    is_kind = stat.S_ISDIR if kind == "directory" else stat.S_ISSOCK
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symlink, not a {kind}"
    if not is_kind(info.st_mode):
        return f"{path} is not a {kind}"
    if info.st_uid != uid:
        return f"{path} is owned by uid {info.st_uid}, not {uid}"
    loose = stat.S_IMODE(info.st_mode) & 0o077
    if loose or stat.S_IMODE(info.st_mode) & mode != mode:
        return f"{path} has mode {stat.S_IMODE(info.st_mode):04o}, not {mode:04o}"
    return None


def socket_dir() -> Path:
    """The directory control sockets go in, made 0700 if missing; SocketPathError (one line)
    when it cannot be made, or is there but not the user's own 0700 directory."""
    path = runtime_dir()
    try:
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        pass  # checked below, as it is: never chmod'ed into shape
    except OSError as exc:
        raise SocketPathError(f"cannot make {path}: {exc.strerror or exc}") from None
    problem = problem_with(path, kind="directory", mode=DIR_MODE)
    if problem is not None:
        raise SocketPathError(problem)
    return path


def sweep_stale(directory: Path) -> int:
    """Remove the sockets left by sessions whose process is gone (killed before it could
    remove its own): only names this module makes, only the user's own sockets. How many."""
    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        match = _SOCKET_NAME.fullmatch(name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        path = directory / name
        if problem_with(path, kind="socket", mode=SOCKET_MODE) is None:
            try:
                os.unlink(path)
                removed += 1
            except OSError:
                pass
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # another user's, or not ours to judge: left alone
    return True


def new_socket_path() -> Path:
    """A path for a new session's socket: <pid>-<random>.sock in socket_dir() (where the
    sockets of sessions killed before they could close are swept away first)."""
    directory = socket_dir()
    sweep_stale(directory)
    path = directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise SocketPathError(f"the socket path {path} is longer than a Unix socket's "
                              f"({MAX_SOCKET_PATH} bytes): set XDG_RUNTIME_DIR to a shorter one")
    return path


def check_socket(path: Path) -> None:
    """SocketPathError unless `path` is the user's own 0600 socket in the user's own 0700
    directory: what a client checks before it sends anything."""
    problem = problem_with(path.parent, kind="directory", mode=DIR_MODE) or \
        problem_with(path, kind="socket", mode=SOCKET_MODE)
    if problem is not None:
        raise SocketPathError(problem)
