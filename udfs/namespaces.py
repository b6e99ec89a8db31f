"""The sandbox zygote's namespaces: an empty network, and a view of the file system in which
runs (as ``nobody``) read what the interpreter needs and nothing else of a root-only home.

Set up once by the zygote (``udfs/zygote.py``) before it forks any run; every child inherits
them. Linux only (``unshare``, ``mount`` through libc).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat

LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000

# What the standard library imports lazily inside calls programs make (time.strptime, ...).
LAZY_STDLIB = ("_strptime", "_pydecimal", "calendar", "locale", "email", "zoneinfo", "graphlib")


def leave_network() -> bool:
    """Enter a new, empty network namespace: directly as root, else inside a new user
    namespace (where the host allows unprivileged ones) that maps our own ids only."""
    if os.getuid() == 0:
        return LIBC.unshare(CLONE_NEWNET) == 0
    uid, gid = os.getuid(), os.getgid()
    if LIBC.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return False
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as mapping:
            mapping.write(text)
    return True


CLONE_NEWNS, MS_REC, MS_PRIVATE, MS_BIND = 0x00020000, 0x4000, 0x40000, 0x1000


def _blocking_ancestor(path: str) -> str | None:
    """The outermost folder on ``path``'s way that others may not enter (no o+x), if any."""
    parts = path.split(os.sep)
    for end in range(2, len(parts) + 1):
        folder = os.sep.join(parts[:end])
        with contextlib.suppress(OSError):
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                return folder
    return None


def _mount(source: bytes | None, target: str, fstype: bytes | None, flags: int, data: bytes | None) -> None:
    if LIBC.mount(source, target.encode(), fstype, flags, data) != 0:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def open_interpreter_to_runs(needed: list[str]) -> bool:
    """Let runs (as ``nobody``) read the interpreter's library and the allowed packages where
    they sit under a folder only root may enter (a home such as /root): in a mount namespace
    of the zygote's own, a private empty tmpfs covers each such folder and the folders runs
    need are bound back into it at their own paths. Everything else there stays out of
    sight. Without this a lazy import (a codec, ``_strptime``) fails in a run and not in
    plain Python. False where the host allows no mount namespace (see ``preload_lazy``)."""
    wanted = sorted({os.path.realpath(path) for path in needed if os.path.isdir(path)})
    covered: dict[str, list[str]] = {}
    for path in wanted:
        blocking = _blocking_ancestor(path)
        if blocking is not None:
            covered.setdefault(blocking, []).append(path)
    if not covered:
        return True
    try:
        if LIBC.unshare(CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
        _mount(b"none", "/", None, MS_REC | MS_PRIVATE, None)
        for folder in sorted(covered, key=len):  # an outer folder first; inner ones are hidden by it
            if any(folder.startswith(outer + os.sep) for outer in covered if outer != folder):
                continue
            inside = [
                path
                for outer, paths in covered.items()
                if outer == folder or outer.startswith(folder + os.sep)
                for path in paths
            ]
            kept = [path for path in inside if not any(path.startswith(other + os.sep) for other in inside)]
            handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in kept}
            _mount(b"tmpfs", folder, b"tmpfs", 0, b"mode=0755")
            for path, handle in handles.items():
                os.makedirs(path, mode=0o755, exist_ok=True)
                _mount(f"/proc/self/fd/{handle}".encode(), path, None, MS_BIND | MS_REC, None)
                os.close(handle)
    except OSError:
        return False
    return True


def preload_lazy() -> None:
    """Where runs cannot be given the library: import what the standard library loads lazily
    (every codec, ``_strptime``) into the zygote, so children inherit it."""
    import encodings
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(encodings.__path__):
        with contextlib.suppress(Exception):
            importlib.import_module(f"encodings.{module.name}")
    for name in LAZY_STDLIB:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
