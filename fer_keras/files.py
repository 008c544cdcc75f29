"""Atomic file writes: every writer of the package goes through here, so a crash or a kill never
leaves a half-written file in place."""

import os
import tempfile
from pathlib import Path


def atomic_write(path, write):
    """Call ``write(tmp_path)`` then move the finished file into place; leave nothing on failure.
    The temporary name keeps ``path``'s suffixes, so writers that infer a format from them (pandas'
    compression, matplotlib, NumPy's ``.npz``) write the right one."""
    path = Path(path)
    suffix = "".join(path.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
