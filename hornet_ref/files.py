"""Files that are never half-written: the one atomic writer every module uses.

:func:`write_atomic` writes to a temporary file beside the target, flushes it to
disk, then renames it over the target (``os.replace`` is atomic on POSIX and
Windows): a reader, a crash or a Ctrl-C at any moment sees the old file or the
new one. A temporary is named ``.{name}.tmp-{pid}-{random}``, so one left by a
writer that was killed (its process gone) is recognised and removed by the next
write of the same file.
"""

from __future__ import annotations

import glob
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["process_alive", "remove_stale_temporaries", "write_atomic"]


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete the temporaries of ``path`` whose writing process no longer runs.

    Returns:
        The paths removed.
    """
    path = Path(path)
    prefix = _temporary_prefix(path)
    pattern = re.compile(re.escape(prefix) + r"(\d+)(-.*)?")
    removed = []
    for candidate in path.parent.glob(glob.escape(prefix) + "*"):
        match = pattern.fullmatch(candidate.name)
        if match is None or process_alive(int(match.group(1))):
            continue
        candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary binary file beside ``path``, then put it
    in place of ``path`` at once.

    The folder is created if needed; stale temporaries of ``path`` (see
    :func:`remove_stale_temporaries`) are removed first. If ``write`` raises, the
    temporary is deleted and any previous file is left as it was.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    prefix = f"{_temporary_prefix(path)}{os.getpid()}-"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the file from other users
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
