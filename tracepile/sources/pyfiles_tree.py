"""The tree of a ``pyfiles`` source: its root, the names its own modules are imported by, and the
paths a module name may have in it (scanned from a listing of its .py files, never imported)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

FileReader = Callable[[str], str | None]  # the text of a file by its path, None where there is none


@dataclass(frozen=True)
class PyTree:
    """The tree a module belongs to: its root, and the top-level names its own modules are
    imported by (what a program needs from one of them is bundled only when its files can be read)."""

    root: str
    packages: frozenset[str]
    root_package: str | None = None  # the root's own name when the root is itself a package

    def relative(self, path: str) -> str:
        prefix = self.root.rstrip("/") + "/"
        return path[len(prefix) :] if path.startswith(prefix) else path

    def module_name(self, path: str) -> str:
        parts = self.relative(path).removesuffix(".py").split("/")
        if parts[-1] == "__init__":
            parts.pop()
        if len(parts) > 1 and parts[0] == "src":
            parts.pop(0)
        return ".".join([self.root_package, *parts] if self.root_package else parts)

    def module_paths(self, module: str) -> list[str]:
        """The paths the module named ``module`` may have in the tree, in the order Python looks
        (a package's ``__init__.py`` before a module file); none when it is not the tree's."""
        root, parts = self.root.rstrip("/"), module.split(".")
        if self.root_package is not None and parts[0] == self.root_package:
            bases = ["/".join([root, *parts[1:]])]
        elif self.root_package is None and parts[0] in self.packages:
            bases = ["/".join([root, *parts]), "/".join([root, "src", *parts])]
        else:
            return []
        return [
            path for base in bases for path in (f"{base}/__init__.py", f"{base}.py") if path != f"{root}.py"
        ]


def scan_tree(root: str, paths: Iterable[str]) -> PyTree:
    """The ``PyTree`` of the .py files ``paths`` listed under ``root``. A root holding an
    ``__init__.py`` is a package imported by its folder name; any other root (a repository)
    holds top-level modules and packages, directly or under ``src/``."""
    root = root.rstrip("/")
    tree = PyTree(root, frozenset())
    relative = [tree.relative(path) for path in paths]
    if "__init__.py" in relative:
        name = posixpath.basename(root)
        return PyTree(root, frozenset({name}), name)
    names: set[str] = set()
    for rel in relative:
        parts = rel.split("/")
        if len(parts) > 1 and parts[0] == "src":
            parts.pop(0)
        names.add(parts[0].removesuffix(".py"))
    return PyTree(root, frozenset(name for name in names if name.isidentifier()))
