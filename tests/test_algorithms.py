"""The `algorithms:builtin` library: well-formed programs, right answers, reproducible
instances, and traced runs in the real sandbox that stay within the trace budget."""

from __future__ import annotations

import ast
import functools
import inspect
import itertools
import json
import math
import os
import random
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tracepile.analysis.values import json_equal
from tracepile.config import SandboxLimits
from tracepile.sources.algorithms import ALGORITHMS, DEFAULT_SIZES, instances, source_code
from tracepile.udfs.sandbox import Sandbox

LIBRARY = REPO / "tracepile" / "sources" / "algorithms" / "library"
NAMES = list(ALGORITHMS)
CATEGORIES = {
    "sorting",
    "searching",
    "graphs",
    "dynamic programming",
    "strings",
    "number theory",
    "geometry",
}
# what a library program may import: pure, deterministic helpers of the standard library
ALLOWED_IMPORTS = {"bisect", "collections", "functools", "heapq", "itertools", "math"}
FORBIDDEN_NAMES = {"open", "print", "input", "eval", "exec", "compile", "__import__", "globals", "vars"}
# sizes for the correctness checks: the defaults and their neighbours, small edge cases included
CHECK_SIZES = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16]

Kwargs = dict[str, Any]


def entry_function(name: str) -> Callable[..., Any]:
    """The library program's entry function, executed from its text in a fresh namespace."""
    namespace: dict[str, Any] = {"__name__": f"library_{name}"}
    exec(compile(source_code(name), f"{name}.py", "exec"), namespace)
    return namespace[name]


def call(name: str, kwargs: Kwargs) -> Any:
    """A direct call on a JSON copy of the arguments; the call must leave them unchanged."""
    arguments = json.loads(json.dumps(kwargs))
    result = entry_function(name)(**arguments)
    assert arguments == kwargs, f"{name} modified its input"
    return result


# --- (a) the library is well formed ------------------------------------------------------


def test_at_least_forty_algorithms_one_file_each() -> None:
    assert len(NAMES) >= 40
    assert len(set(NAMES)) == len(NAMES)
    assert sorted(path.stem for path in LIBRARY.glob("*.py")) == sorted(NAMES)
    assert {algorithm.category for algorithm in ALGORITHMS.values()} == CATEGORIES
    assert all(algorithm.entry_point == name for name, algorithm in ALGORITHMS.items())


def test_the_registry_order_is_stable() -> None:
    categories = [algorithm.category for algorithm in ALGORITHMS.values()]
    assert NAMES[:3] == ["insertion_sort", "selection_sort", "bubble_sort"]
    # each category is one contiguous block
    assert len([key for key, _ in itertools.groupby(categories)]) == len(CATEGORIES)


def test_code_is_read_from_the_package_and_matches_the_file() -> None:
    for name, algorithm in ALGORITHMS.items():
        assert algorithm.code == (LIBRARY / f"{name}.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", NAMES)
def test_each_program_is_self_contained(name: str) -> None:
    code = source_code(name)
    tree = ast.parse(code)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert name in functions, f"{name}.py has no top-level function {name}"
    for node in tree.body:  # nothing runs at import but imports and definitions
        assert isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef), ast.dump(node)[:80]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules = {(node.module or "").split(".")[0]}
        else:
            modules = set()
        assert modules <= ALLOWED_IMPORTS, f"{name} imports {modules - ALLOWED_IMPORTS}"
        assert modules <= set(sys.stdlib_module_names)
        if isinstance(node, ast.Name):
            assert node.id not in FORBIDDEN_NAMES, f"{name} uses {node.id}"
    for function in functions.values():  # type hints on every parameter and return
        arguments = function.args.args + function.args.kwonlyargs
        assert all(argument.annotation is not None for argument in arguments), function.name
        assert function.returns is not None, function.name
    entry = functions[name]
    assert not entry.args.defaults and not entry.args.vararg and not entry.args.kwarg
    docstring = ast.get_docstring(entry)
    assert docstring and len(docstring.split()) >= 30, "the docstring is the problem statement"
    assert "\n\n" not in docstring, "one paragraph"
    assert ALGORITHMS[name].description == " ".join(docstring.split())
    assert all(len(line) <= 110 for line in code.splitlines())


@pytest.mark.parametrize("name", NAMES)
def test_instances_are_json_and_fit_the_entry_function(name: str) -> None:
    parameters = list(inspect.signature(entry_function(name)).parameters)
    for kwargs in instances(name, CHECK_SIZES, 3, seed=11):
        assert sorted(kwargs) == sorted(parameters)
        assert json.loads(json.dumps(kwargs, allow_nan=False)) == kwargs


# --- (b) every answer equals an independent reference ------------------------------------


def _sorted_check(kwargs: Kwargs, result: Any) -> None:
    assert result == sorted(kwargs["values"])


def _shortest_simple_path(n: int, edges: list[list[int]], source: int, target: int) -> int | None:
    """The lightest simple path by enumerating all of them (no negative cycle assumed)."""
    weight: dict[tuple[int, int], int] = {}
    for u, v, w in edges:
        weight[u, v] = min(weight.get((u, v), w), w)
    if source == target:
        return 0
    best: int | None = None
    others = [vertex for vertex in range(n) if vertex not in (source, target)]
    for count in range(len(others) + 1):
        for middle in itertools.permutations(others, count):
            path = [source, *middle, target]
            if all((a, b) in weight for a, b in itertools.pairwise(path)):
                total = sum(weight[a, b] for a, b in itertools.pairwise(path))
                best = total if best is None else min(best, total)
    return best


def _relaxed_distances(n: int, edges: list[list[int]], source: int) -> list[int | None]:
    """Distances by relaxing every edge n times over (no priority queue, no early exit)."""
    infinity = math.inf
    distance = [infinity] * n
    distance[source] = 0
    for _ in range(n):
        for u, v, w in edges:
            distance[v] = min(distance[v], distance[u] + w)
    return [None if d == infinity else int(d) for d in distance]


def _unit_edges(adjacency: list[list[int]]) -> list[list[int]]:
    return [[u, v, 1] for u, neighbors in enumerate(adjacency) for v in neighbors]


def _recursive_dfs(adjacency: list[list[int]], source: int) -> list[int]:
    order: list[int] = []

    def visit(vertex: int) -> None:
        order.append(vertex)
        for neighbor in adjacency[vertex]:
            if neighbor not in order:
                visit(neighbor)

    visit(source)
    return order


def _smallest_topological_order(n: int, edges: list[list[int]]) -> list[int]:
    order: list[int] = []
    while len(order) < n:
        ready = [v for v in range(n) if v not in order and all(u in order for u, w in edges if w == v)]
        order.append(min(ready))
    return order


def _minimum_spanning_tree(n: int, edges: list[list[int]]) -> tuple[int, set[tuple[int, int, int]]]:
    """The lightest spanning tree among all (n - 1)-edge subsets that connect every vertex."""
    best: tuple[int, set[tuple[int, int, int]]] | None = None
    for subset in itertools.combinations(edges, n - 1):
        label = list(range(n))
        for _ in range(n):
            for u, v, _w in subset:
                label[u] = label[v] = min(label[u], label[v])
        if len(set(label)) == 1:
            total = sum(w for _u, _v, w in subset)
            if best is None or total < best[0]:
                best = (total, {(min(u, v), max(u, v), w) for u, v, w in subset})
    assert best is not None, "the generator gives connected graphs"
    return best


def _spanning_tree_check(kwargs: Kwargs, result: Any) -> None:
    weight, edges = _minimum_spanning_tree(kwargs["n"], kwargs["edges"])
    assert result["weight"] == weight
    assert len(result["edges"]) == kwargs["n"] - 1
    assert {(min(u, v), max(u, v), w) for u, v, w in result["edges"]} == edges


def _groups(n: int, same: Callable[[int, int], bool]) -> list[list[int]]:
    groups: list[list[int]] = []
    for vertex in range(n):
        for group in groups:
            if same(group[0], vertex):
                group.append(vertex)
                break
        else:
            groups.append([vertex])
    return groups


def _reachability(n: int, pairs: list[list[int]], undirected: bool) -> list[list[bool]]:
    reach = [[i == j for j in range(n)] for i in range(n)]
    for u, v in pairs:
        reach[u][v] = True
        if undirected:
            reach[v][u] = True
    for k, i, j in itertools.product(range(n), repeat=3):  # k outermost: Warshall's closure
        reach[i][j] = reach[i][j] or (reach[i][k] and reach[k][j])
    return reach


def _components_check(kwargs: Kwargs, result: Any) -> None:
    reach = _reachability(kwargs["n"], kwargs["edges"], undirected=True)
    assert result == _groups(kwargs["n"], lambda u, v: reach[u][v])


def _scc_check(kwargs: Kwargs, result: Any) -> None:
    reach = _reachability(kwargs["n"], kwargs["edges"], undirected=False)
    assert result == _groups(kwargs["n"], lambda u, v: reach[u][v] and reach[v][u])


def _bipartite_check(kwargs: Kwargs, result: Any) -> None:
    adjacency = kwargs["adjacency"]
    expected = any(
        all(colors[u] != colors[v] for u in range(len(adjacency)) for v in adjacency[u])
        for colors in itertools.product((0, 1), repeat=len(adjacency))
    )
    assert result is expected


def _is_subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(letter in letters for letter in short)


def _lcs_check(kwargs: Kwargs, result: Any) -> None:
    first, second = kwargs["first"], kwargs["second"]
    longest = max(
        count
        for count in range(len(first) + 1)
        for picked in itertools.combinations(first, count)
        if _is_subsequence("".join(picked), second)
    )
    assert isinstance(result, str) and len(result) == longest
    assert _is_subsequence(result, first) and _is_subsequence(result, second)


def _edit_distance_check(kwargs: Kwargs, result: Any) -> None:
    source, target = kwargs["source"], kwargs["target"]

    @functools.cache
    def distance(i: int, j: int) -> int:  # suffixes source[i:] and target[j:], top-down
        if i == len(source) or j == len(target):
            return len(source) - i + len(target) - j
        return min(
            distance(i + 1, j) + 1,
            distance(i, j + 1) + 1,
            distance(i + 1, j + 1) + (source[i] != target[j]),
        )

    assert result == distance(0, 0)


def _knapsack_check(kwargs: Kwargs, result: Any) -> None:
    items = list(zip(kwargs["weights"], kwargs["values"], strict=True))
    assert result == max(
        sum(value for _, value in chosen)
        for count in range(len(items) + 1)
        for chosen in itertools.combinations(items, count)
        if sum(weight for weight, _ in chosen) <= kwargs["capacity"]
    )


def _lis_check(kwargs: Kwargs, result: Any) -> None:
    values = kwargs["values"]
    ending = [1] * len(values)  # the quadratic DP: longest increasing run ending at each index
    for j, i in itertools.combinations(range(len(values)), 2):
        if values[j] < values[i]:
            ending[i] = max(ending[i], ending[j] + 1)
    assert result == max(ending, default=0)


def _coin_change_check(kwargs: Kwargs, result: Any) -> None:
    coins, amount = kwargs["coins"], kwargs["amount"]
    steps = {0: 0}  # breadth-first over totals: the fewest coins is the shortest path
    queue = deque([0])
    while queue:
        total = queue.popleft()
        for coin in coins:
            if total + coin <= amount and total + coin not in steps:
                steps[total + coin] = steps[total] + 1
                queue.append(total + coin)
    assert result == steps.get(amount, -1)


def _matrix_chain_check(kwargs: Kwargs, result: Any) -> None:
    dims = kwargs["dimensions"]

    @functools.cache
    def cost(i: int, j: int) -> int:
        if i == j:
            return 0
        return min(cost(i, k) + cost(k + 1, j) + dims[i] * dims[k + 1] * dims[j + 1] for k in range(i, j))

    assert result == cost(0, len(dims) - 2)


def _rod_cutting_check(kwargs: Kwargs, result: Any) -> None:
    prices = kwargs["prices"]
    best = 0
    for cuts in itertools.product((False, True), repeat=len(prices) - 1):
        pieces, length = [], 1
        for cut in cuts:
            if cut:
                pieces.append(length)
                length = 0
            length += 1
        pieces.append(length)
        best = max(best, sum(prices[piece - 1] for piece in pieces))
    assert result == best


def _subset_sum_check(kwargs: Kwargs, result: Any) -> None:
    values = kwargs["values"]
    expected = any(
        sum(chosen) == kwargs["target"]
        for count in range(len(values) + 1)
        for chosen in itertools.combinations(values, count)
    )
    assert result is expected


def _occurrences_check(kwargs: Kwargs, result: Any) -> None:
    text, pattern = kwargs["text"], kwargs["pattern"]
    assert result == [i for i in range(len(text) - len(pattern) + 1) if text.startswith(pattern, i)]


def _z_check(kwargs: Kwargs, result: Any) -> None:
    text = kwargs["text"]
    expected = []
    for i in range(len(text)):
        length = 0
        while i + length < len(text) and text[length] == text[i + length]:
            length += 1
        expected.append(length)
    assert result == expected


def _palindromic_substring_check(kwargs: Kwargs, result: Any) -> None:
    text = kwargs["text"]
    palindromes = [
        text[i:j] for i in range(len(text)) for j in range(i, len(text) + 1) if text[i:j] == text[i:j][::-1]
    ]
    assert result == max(palindromes, key=len)  # max keeps the first, i.e. leftmost, longest


def _is_palindrome_check(kwargs: Kwargs, result: Any) -> None:
    kept = [character.lower() for character in kwargs["text"] if character.isalnum()]
    assert result is (kept == kept[::-1])


def _extended_gcd_check(kwargs: Kwargs, result: Any) -> None:
    a, b = kwargs["a"], kwargs["b"]
    g, x, y = result
    assert g == math.gcd(a, b) and a * x + b * y == g


def _is_prime(number: int) -> bool:
    return number >= 2 and all(number % d for d in range(2, number))


def _factorization_check(kwargs: Kwargs, result: Any) -> None:
    assert result == sorted(result) and all(map(_is_prime, result))
    assert math.prod(result) == kwargs["number"]


def _mod_inverse_check(kwargs: Kwargs, result: Any) -> None:
    a, modulus = kwargs["a"], kwargs["modulus"]
    assert result == (pow(a, -1, modulus) if math.gcd(a, modulus) == 1 else None)


def _cross(o: list[int], a: list[int], b: list[int]) -> int:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _convex_hull_check(kwargs: Kwargs, result: Any) -> None:
    points = kwargs["points"]
    if len(points) < 3 or all(_cross(points[0], points[1], p) == 0 for p in points):
        assert result == sorted(points)[:: max(len(points) - 1, 1)]  # the two ends, or the points
        return
    # a strictly convex counter-clockwise polygon of input points that contains every input
    # point is the hull, and lists exactly its corners
    assert result[0] == min(points) and all(p in points for p in result)
    assert len({tuple(p) for p in result}) == len(result) >= 3
    corners = len(result)
    for i in range(corners):
        a, b, c = result[i], result[(i + 1) % corners], result[(i + 2) % corners]
        assert _cross(a, b, c) > 0
        assert all(_cross(a, b, p) >= 0 for p in points)


def _polygon_area_check(kwargs: Kwargs, result: Any) -> None:
    points = kwargs["points"]
    trapezoids = sum(
        (x2 - x1) * (y2 + y1) for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True)
    )
    assert isinstance(result, float) and result == abs(trapezoids) / 2


def _on_segment(a: list[int], b: list[int], p: list[int]) -> bool:
    dot = (p[0] - a[0]) * (p[0] - b[0]) + (p[1] - a[1]) * (p[1] - b[1])
    return _cross(a, b, p) == 0 and dot <= 0


def _segments_check(kwargs: Kwargs, result: Any) -> None:
    p1, p2, p3, p4 = (kwargs[key] for key in ("p1", "p2", "p3", "p4"))
    r = [p2[0] - p1[0], p2[1] - p1[1]]
    s = [p4[0] - p3[0], p4[1] - p3[1]]
    q = [p3[0] - p1[0], p3[1] - p1[1]]
    denominator = r[0] * s[1] - r[1] * s[0]
    if denominator != 0:  # not parallel: solve p1 + t r = p3 + u s
        t = Fraction(q[0] * s[1] - q[1] * s[0], denominator)
        u = Fraction(q[0] * r[1] - q[1] * r[0], denominator)
        expected = 0 <= t <= 1 and 0 <= u <= 1
    else:  # parallel, collinear or a single point: they meet iff an end lies on the other
        expected = (
            _on_segment(p3, p4, p1)
            or _on_segment(p3, p4, p2)
            or _on_segment(p1, p2, p3)
            or _on_segment(p1, p2, p4)
        )
    assert result is expected


def _closest_pair_check(kwargs: Kwargs, result: Any) -> None:
    assert result == min(
        (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 for a, b in itertools.combinations(kwargs["points"], 2)
    )


def _equals(reference: Callable[..., Any]) -> Callable[[Kwargs, Any], None]:
    def check(kwargs: Kwargs, result: Any) -> None:
        assert result == reference(**kwargs)

    return check


CHECKS: dict[str, Callable[[Kwargs, Any], None]] = {
    **{
        name: _sorted_check
        for name in (
            "insertion_sort",
            "selection_sort",
            "bubble_sort",
            "merge_sort",
            "quick_sort",
            "heap_sort",
            "counting_sort",
            "radix_sort",
            "shell_sort",
        )
    },
    "binary_search": _equals(lambda values, target: values.index(target) if target in values else -1),
    "lower_bound": _equals(lambda values, target: sum(value < target for value in values)),
    "upper_bound": _equals(lambda values, target: sum(value <= target for value in values)),
    "ternary_search_peak": _equals(lambda values: values.index(max(values))),
    "quickselect": _equals(lambda values, k: sorted(values)[k]),
    "bfs": _equals(
        lambda adjacency, source: _relaxed_distances(len(adjacency), _unit_edges(adjacency), source)
    ),
    "dfs": _equals(_recursive_dfs),
    "dijkstra": _equals(_relaxed_distances),
    "bellman_ford": _equals(
        lambda n, edges, source: [_shortest_simple_path(n, edges, source, target) for target in range(n)]
    ),
    "floyd_warshall": _equals(
        lambda n, edges: [[_shortest_simple_path(n, edges, i, j) for j in range(n)] for i in range(n)]
    ),
    "topological_sort": _equals(_smallest_topological_order),
    "kruskal": _spanning_tree_check,
    "prim": _spanning_tree_check,
    "connected_components": _components_check,
    "strongly_connected_components": _scc_check,
    "is_bipartite": _bipartite_check,
    "longest_common_subsequence": _lcs_check,
    "edit_distance": _edit_distance_check,
    "knapsack_01": _knapsack_check,
    "longest_increasing_subsequence": _lis_check,
    "coin_change": _coin_change_check,
    "matrix_chain_order": _matrix_chain_check,
    "rod_cutting": _rod_cutting_check,
    "max_subarray_sum": _equals(
        lambda values: max(
            sum(values[i:j]) for i in range(len(values)) for j in range(i + 1, len(values) + 1)
        )
    ),
    "subset_sum": _subset_sum_check,
    "kmp_search": _occurrences_check,
    "z_function": _z_check,
    "longest_palindromic_substring": _palindromic_substring_check,
    "is_palindrome": _is_palindrome_check,
    "rabin_karp_search": _occurrences_check,
    "run_length_encoding": _equals(
        lambda text: [[character, len(list(run))] for character, run in itertools.groupby(text)]
    ),
    "gcd": _equals(lambda a, b: math.gcd(a, b)),
    "extended_gcd": _extended_gcd_check,
    "sieve_of_eratosthenes": _equals(lambda limit: [p for p in range(limit + 1) if _is_prime(p)]),
    "mod_pow": _equals(lambda base, exponent, modulus: pow(base, exponent, modulus)),
    "prime_factorization": _factorization_check,
    "mod_inverse": _mod_inverse_check,
    "euler_phi": _equals(lambda number: sum(math.gcd(k, number) == 1 for k in range(1, number + 1))),
    "convex_hull": _convex_hull_check,
    "polygon_area": _polygon_area_check,
    "segments_intersect": _segments_check,
    "closest_pair": _closest_pair_check,
}


def test_every_algorithm_has_a_reference() -> None:
    assert sorted(CHECKS) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_results_equal_the_reference(name: str) -> None:
    for seed in (0, 1):
        for kwargs in instances(name, CHECK_SIZES, 4, seed):
            result = call(name, kwargs)
            assert json.loads(json.dumps(result, allow_nan=False)) == result, "JSON in, JSON out"
            try:
                CHECKS[name](kwargs, result)
            except AssertionError as error:
                raise AssertionError(f"{name}({json.dumps(kwargs)}) = {json.dumps(result)}") from error


def test_the_references_catch_a_wrong_answer() -> None:
    assert _lcs_check({"first": "abcb", "second": "bcab"}, "bcb") is None
    with pytest.raises(AssertionError):
        _lcs_check({"first": "abcb", "second": "bcab"}, "ab")
    with pytest.raises(AssertionError):
        _convex_hull_check({"points": [[0, 0], [2, 0], [1, 1], [0, 2], [2, 2]]}, [[0, 0], [2, 0], [2, 2]])
    with pytest.raises(AssertionError):
        _spanning_tree_check({"n": 3, "edges": [[0, 1, 1], [1, 2, 2], [0, 2, 3]]}, {"weight": 4, "edges": []})
    _segments_check({"p1": [0, 0], "p2": [2, 2], "p3": [1, 1], "p4": [3, 3]}, True)  # collinear overlap
    _segments_check({"p1": [0, 0], "p2": [1, 1], "p3": [2, 2], "p4": [3, 3]}, False)  # collinear, apart


# --- (c) instances are reproducible --------------------------------------------------------


def test_instances_depend_on_the_seed_only() -> None:
    state = random.getstate()
    for name in NAMES:
        random.seed(1)
        first = instances(name, list(DEFAULT_SIZES), 2, seed=0)
        random.seed(2)
        assert instances(name, list(DEFAULT_SIZES), 2, seed=0) == first
        assert instances(name, list(DEFAULT_SIZES), 2, seed=1) != first
        assert len(first) == 2 * len(DEFAULT_SIZES)
    random.setstate(state)
    instances(NAMES[0], [4], 1, seed=0)
    assert random.getstate() == state, "the global random state is left alone"


def test_instances_are_the_same_in_another_process() -> None:
    script = (
        "import json; from tracepile.sources.algorithms import ALGORITHMS, instances; "
        "print(json.dumps({n: instances(n, [4, 8, 12], 2, 5) for n in ALGORITHMS}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env, cwd=Path(REPO)
    ).stdout
    assert json.loads(output) == {name: instances(name, [4, 8, 12], 2, 5) for name in NAMES}


# --- (d) traced runs in the real sandbox ---------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=1) as box:
        yield box


@pytest.mark.parametrize("name", NAMES)
def test_default_instances_run_traced_within_the_budget(sandbox: Sandbox, name: str) -> None:
    limits = SandboxLimits()
    assert limits.trace_lines == 300
    code = source_code(name)
    for kwargs in instances(name, list(DEFAULT_SIZES), 2, seed=0):
        result = sandbox.execute(code, name, json.dumps(kwargs), None, limits)
        assert result.status == "ok", f"{name}({json.dumps(kwargs)}): {result.status} {result.error}"
        assert json_equal(result.return_json or "", json.dumps(call(name, kwargs)))
        assert result.trace_text and len(result.trace_text.splitlines()) <= limits.trace_lines
        assert f"Call to {name}" in result.trace_text
