"""Local paths and object-store URIs behind one pyarrow filesystem call."""

from __future__ import annotations

import os

import pyarrow.fs as pafs


def filesystem_for(path: str) -> tuple[pafs.FileSystem, str, str]:
    """(filesystem, path inside it, prefix that turns an inner path back into the caller's form).

    A local path is made absolute so that executors on the same host open the same file.
    """
    if "://" in path:
        fs, inner = pafs.FileSystem.from_uri(path)
        return fs, inner, path[: path.index("://") + 3]
    return pafs.LocalFileSystem(), os.path.abspath(path), ""
