"""Atomic writes: every writer of the package goes through here, so a crash or a kill never leaves a
half-written file — or a results folder that mixes two evaluations — in place.

:func:`atomic_write` writes one file under a temporary name, then renames it into place.
:func:`replace_folder` builds a whole folder in a temporary sibling, then swaps it into place;
the temporary folders it leaves when killed carry the writer's process id, and the next
:func:`replace_folder` in that parent removes those whose writer is gone (restoring the previous
folder if the kill fell between the two renames of the swap)."""

import os
import re
import shutil
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
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_TEMPORARY = re.compile(r"\.(?P<name>.+)\.(?P<kind>new|old)-(?P<pid>\d+)-[A-Za-z0-9_]+")
"""The temporary siblings of :func:`replace_folder`: ``.<name>.new-<pid>-<random>`` (being built) and
``.<name>.old-<pid>-<random>`` (the previous folder, during the swap)."""


def replace_folder(path, build, carry=None):
    """Build the folder ``path`` whole: ``build(tmp)`` writes its files into a temporary sibling,
    which then replaces ``path`` by a rename (the previous folder is kept until the new one is in
    place, then removed). A failure or a kill at any point leaves the previous folder or the new
    one, complete — never a mix. ``carry(name)``: which files of the previous folder the new one
    keeps (copied in before ``build``, which may overwrite them); default none. Temporary files of
    a killed writer (``.<name>.*``) are never carried. Returns ``path``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        from fer_keras.errors import FERError

        raise FERError(f"{path} is a file, not a folder; remove it or choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    pid = os.getpid()
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.new-{pid}-"))
    try:
        if carry is not None and path.is_dir():
            for item in path.iterdir():
                if item.name.startswith(".") or not carry(item.name):
                    continue
                if item.is_dir():
                    shutil.copytree(item, tmp / item.name)
                else:
                    shutil.copy2(item, tmp / item.name)
        build(tmp)
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-{pid}-"))
            os.rmdir(old)
            path.rename(old)  # a kill from here to the next rename: the next start restores ``old``
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def remove_stale_temporaries(parent):
    """Remove the temporary folders that killed :func:`replace_folder` calls left in ``parent`` (those
    whose process is gone); a previous folder caught mid-swap is put back where it was."""
    parent = Path(parent)
    if not parent.is_dir():
        return []
    found = [(item, _TEMPORARY.fullmatch(item.name)) for item in parent.iterdir() if item.name.startswith(".")]
    stale = [(item, match) for item, match in found if match and item.is_dir() and not _alive(int(match["pid"]), item)]
    removed = []
    for item, found in sorted(stale, key=lambda pair: pair[1]["kind"] == "new"):  # put ``old`` back first
        target = parent / found["name"]
        if found["kind"] == "old" and not target.exists():
            item.rename(target)
            continue
        shutil.rmtree(item, ignore_errors=True)
        removed.append(item)
    return removed


def _alive(pid, item):
    """Whether process ``pid``, which made ``item``, may still be running. (Without POSIX signals,
    a temporary folder a day old is taken as stale.)"""
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill would terminate the process
        import time

        return time.time() - item.stat().st_mtime < 86_400
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
