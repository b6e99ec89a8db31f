"""The `algorithms:builtin` library: classical algorithms written as self-contained programs.

Each algorithm is one file, ``library/<name>.py``, holding a top-level function ``<name>``
(the entry point) and any helpers it needs: standard library only, deterministic, JSON in
and JSON out; the entry function's docstring states the problem and its input/output
format. ``ALGORITHMS`` maps each name to an ``Algorithm``: its domain ``category``, its
source text ``code`` (read with ``importlib.resources``, so it works from a wheel) and a
seeded ``generate(rng, size)`` that returns the keyword arguments of one valid instance.
``instances`` draws a reproducible set of them, seeded per (seed, name, size, index).
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from tracepile.sources.algorithms import instance_generators as gen

DEFAULT_SIZES = (4, 8, 12)
LIBRARY_FOLDER = "library"

Generator = Callable[[random.Random, int], dict[str, Any]]


@cache
def source_code(name: str) -> str:
    """The text of ``library/<name>.py``, read from the installed package."""
    path = resources.files(__name__) / LIBRARY_FOLDER / f"{name}.py"
    return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Algorithm:
    """One program of the library: ``name`` is its file stem and its entry function's name."""

    name: str
    category: str
    generate: Generator

    @property
    def entry_point(self) -> str:
        return self.name

    @property
    def code(self) -> str:
        return source_code(self.name)

    @property
    def description(self) -> str:
        """The entry function's docstring (the problem statement), as one paragraph."""
        for node in ast.parse(self.code).body:
            if isinstance(node, ast.FunctionDef) and node.name == self.name:
                return " ".join((ast.get_docstring(node) or "").split())
        raise LookupError(f"{self.name}.py has no function {self.name}")


# Categories; the order of the table below is the registry's (stable) order.
SORTING = "sorting"
SEARCHING = "searching"
GRAPHS = "graphs"
DYNAMIC_PROGRAMMING = "dynamic programming"
STRINGS = "strings"
NUMBER_THEORY = "number theory"
GEOMETRY = "geometry"

_TABLE: tuple[tuple[str, Generator], ...] = (
    (SORTING, gen.insertion_sort),
    (SORTING, gen.selection_sort),
    (SORTING, gen.bubble_sort),
    (SORTING, gen.merge_sort),
    (SORTING, gen.quick_sort),
    (SORTING, gen.heap_sort),
    (SORTING, gen.counting_sort),
    (SORTING, gen.radix_sort),
    (SORTING, gen.shell_sort),
    (SEARCHING, gen.binary_search),
    (SEARCHING, gen.lower_bound),
    (SEARCHING, gen.upper_bound),
    (SEARCHING, gen.ternary_search_peak),
    (SEARCHING, gen.quickselect),
    (GRAPHS, gen.bfs),
    (GRAPHS, gen.dfs),
    (GRAPHS, gen.dijkstra),
    (GRAPHS, gen.bellman_ford),
    (GRAPHS, gen.floyd_warshall),
    (GRAPHS, gen.topological_sort),
    (GRAPHS, gen.kruskal),
    (GRAPHS, gen.prim),
    (GRAPHS, gen.connected_components),
    (GRAPHS, gen.strongly_connected_components),
    (GRAPHS, gen.is_bipartite),
    (DYNAMIC_PROGRAMMING, gen.longest_common_subsequence),
    (DYNAMIC_PROGRAMMING, gen.edit_distance),
    (DYNAMIC_PROGRAMMING, gen.knapsack_01),
    (DYNAMIC_PROGRAMMING, gen.longest_increasing_subsequence),
    (DYNAMIC_PROGRAMMING, gen.coin_change),
    (DYNAMIC_PROGRAMMING, gen.matrix_chain_order),
    (DYNAMIC_PROGRAMMING, gen.rod_cutting),
    (DYNAMIC_PROGRAMMING, gen.max_subarray_sum),
    (DYNAMIC_PROGRAMMING, gen.subset_sum),
    (STRINGS, gen.kmp_search),
    (STRINGS, gen.z_function),
    (STRINGS, gen.longest_palindromic_substring),
    (STRINGS, gen.is_palindrome),
    (STRINGS, gen.rabin_karp_search),
    (STRINGS, gen.run_length_encoding),
    (NUMBER_THEORY, gen.gcd),
    (NUMBER_THEORY, gen.extended_gcd),
    (NUMBER_THEORY, gen.sieve_of_eratosthenes),
    (NUMBER_THEORY, gen.mod_pow),
    (NUMBER_THEORY, gen.prime_factorization),
    (NUMBER_THEORY, gen.mod_inverse),
    (NUMBER_THEORY, gen.euler_phi),
    (GEOMETRY, gen.convex_hull),
    (GEOMETRY, gen.polygon_area),
    (GEOMETRY, gen.segments_intersect),
    (GEOMETRY, gen.closest_pair),
)

# A generator is named after its algorithm, so the table cannot pair one with another's.
ALGORITHMS: Mapping[str, Algorithm] = MappingProxyType(
    {generate.__name__: Algorithm(generate.__name__, category, generate) for category, generate in _TABLE}
)


def instance_rng(seed: int, name: str, size: int, index: int) -> random.Random:
    """The generator of instance ``index`` of size ``size``: independent of every other
    instance, of the registry's order and of the global random state."""
    return random.Random(f"{seed}:{name}:{size}:{index}")


def instances(name: str, sizes: list[int], per_size: int, seed: int) -> list[dict[str, Any]]:
    """``per_size`` instances (keyword arguments of the entry function) of each size, in the
    order of ``sizes``; the same for the same arguments in any process."""
    generate = ALGORITHMS[name].generate
    return [
        generate(instance_rng(seed, name, size, index), size) for size in sizes for index in range(per_size)
    ]
