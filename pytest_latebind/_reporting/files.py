"""What every file report needs: an atomic write, and the root its paths are relative to."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """A reader (a CI step, an IDE watching the file) never sees half a report.

    A path that is a symlink (or lies under one) is written where it points, as
    ``--junitxml`` writes: the new file replaces the link's target, never the link.
    """
    path = Path(os.path.realpath(path))
    mode = _mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes the file 0600; a report is a file like any other (a CI step running
        # as another user uploads it): the permissions open() would give it, or the old file's.
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _mode(path: Path) -> int:
    """The permission bits of the file at ``path``, or of a new file under the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    umask = os.umask(0o022)  # read it: os.umask is the only way, and puts it back right away
    os.umask(umask)
    return 0o666 & ~umask


def source_root(rootdir: Path) -> Path:
    """The root that code scanning and GitHub annotations resolve paths against.

    pytest's rootdir is often a subdirectory of the repository (a monorepo, or
    ``examples/scheduler`` here), while GitHub needs paths relative to the checkout. So:
    ``$GITHUB_WORKSPACE`` when the rootdir lies inside it, else the nearest directory at
    or above the rootdir holding ``.git``, else the rootdir itself.
    """
    root = rootdir.resolve()
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace:
        candidate = Path(workspace).resolve()
        if root == candidate or candidate in root.parents:
            return candidate
    for directory in (root, *root.parents):
        if (directory / ".git").exists():
            return directory
    return root
