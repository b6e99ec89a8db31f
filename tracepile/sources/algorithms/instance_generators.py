"""Seeded instance generators for the algorithm library: ``generate(rng, size) -> kwargs``.

Each generator returns the keyword arguments (JSON values only) of one valid instance of
its algorithm. ``size`` is the nominal size (elements, vertices, string length, bits...);
algorithms whose trace grows faster than linearly scale it down (``_shrink``) so that an
instance at the default sizes 4, 8 and 12 stays within the trace budget (300 snoop lines).
The scaled sizes are written beside each generator. Every random draw comes from ``rng``.
"""

from __future__ import annotations

import math
import random
from typing import Any

Instance = dict[str, Any]


def _shrink(size: int, divisor: int, base: int = 2) -> int:
    """``base + size // divisor``: the element count of an algorithm with a steep trace."""
    return base + max(size, 0) // divisor


def _values(rng: random.Random, count: int, low: int = -20, high: int = 40) -> list[int]:
    return [rng.randint(low, high) for _ in range(count)]


def _word(rng: random.Random, length: int, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _random_pairs(rng: random.Random, n: int, count: int) -> list[list[int]]:
    """``count`` distinct unordered pairs of distinct vertices (fewer if the graph is full)."""
    candidates = [[u, v] for u in range(n) for v in range(u + 1, n)]
    return rng.sample(candidates, min(count, len(candidates)))


def _connected_pairs(rng: random.Random, n: int, extra: int) -> list[list[int]]:
    """A random spanning tree of vertices 0..n-1 plus ``extra`` more distinct pairs, shuffled."""
    labels = list(range(n))
    rng.shuffle(labels)
    pairs = [sorted([labels[i], labels[rng.randrange(i)]]) for i in range(1, n)]
    taken = {tuple(pair) for pair in pairs}
    others = [[u, v] for u in range(n) for v in range(u + 1, n) if (u, v) not in taken]
    pairs += rng.sample(others, min(extra, len(others)))
    rng.shuffle(pairs)
    return [pair if rng.random() < 0.5 else pair[::-1] for pair in pairs]


def _adjacency(n: int, pairs: list[list[int]]) -> list[list[int]]:
    """Undirected adjacency lists (each ascending) of the pairs."""
    adjacency: list[list[int]] = [[] for _ in range(n)]
    for u, v in pairs:
        adjacency[u].append(v)
        adjacency[v].append(u)
    return [sorted(neighbors) for neighbors in adjacency]


def _directed_edges(rng: random.Random, n: int, count: int) -> list[list[int]]:
    """``count`` distinct directed edges [u, v], u != v, in random order."""
    candidates = [[u, v] for u in range(n) for v in range(n) if u != v]
    return rng.sample(candidates, min(count, len(candidates)))


def _dag_edges(rng: random.Random, n: int, count: int) -> list[list[int]]:
    """``count`` distinct edges that all point forward in a random vertex order: a DAG."""
    order = list(range(n))
    rng.shuffle(order)
    candidates = [[order[i], order[j]] for i in range(n) for j in range(i + 1, n)]
    return rng.sample(candidates, min(count, len(candidates)))


def _potential_weights(rng: random.Random, n: int, edges: list[list[int]]) -> list[list[int]]:
    """Weights c + p[u] - p[v] with c >= 0: some are negative, yet every cycle's total is
    the sum of its c >= 0, so there is no negative cycle."""
    potential = [rng.randint(0, 6) for _ in range(n)]
    return [[u, v, rng.randint(0, 5) + potential[u] - potential[v]] for u, v in edges]


def _distinct_weights(rng: random.Random, pairs: list[list[int]]) -> list[list[int]]:
    weights = rng.sample(range(1, 4 * len(pairs) + 2), len(pairs))
    return [[u, v, weight] for (u, v), weight in zip(pairs, weights, strict=True)]


# --- sorting ---------------------------------------------------------------------------


def insertion_sort(rng: random.Random, size: int) -> Instance:
    """Quadratic trace: 2 + size // 2 elements (4, 6, 8)."""
    return {"values": _values(rng, _shrink(size, 2))}


def selection_sort(rng: random.Random, size: int) -> Instance:
    """Quadratic trace: 2 + size // 2 elements (4, 6, 8)."""
    return {"values": _values(rng, _shrink(size, 2))}


def bubble_sort(rng: random.Random, size: int) -> Instance:
    """Quadratic trace: 2 + size // 2 elements (4, 6, 8)."""
    return {"values": _values(rng, _shrink(size, 2))}


def merge_sort(rng: random.Random, size: int) -> Instance:
    """Every recursive call is traced: 2 + size // 3 elements (3, 4, 6)."""
    return {"values": _values(rng, _shrink(size, 3))}


def quick_sort(rng: random.Random, size: int) -> Instance:
    """Quadratic worst case: 3 + size // 4 elements (4, 5, 6)."""
    return {"values": _values(rng, _shrink(size, 4, base=3))}


def heap_sort(rng: random.Random, size: int) -> Instance:
    """``size`` elements (the sift-downs run untraced)."""
    return {"values": _values(rng, max(size, 1))}


def counting_sort(rng: random.Random, size: int) -> Instance:
    """``size`` elements between 0 and a max_value of 3 to 9."""
    max_value = rng.randint(3, 9)
    return {"values": _values(rng, max(size, 1), 0, max_value), "max_value": max_value}


def radix_sort(rng: random.Random, size: int) -> Instance:
    """``size`` elements of one or two digits (one pass per digit)."""
    digits = rng.randint(1, 2)
    return {"values": _values(rng, max(size, 1), 0, 10**digits - 1)}


def shell_sort(rng: random.Random, size: int) -> Instance:
    """2 + size // 2 elements (4, 6, 8)."""
    return {"values": _values(rng, _shrink(size, 2))}


# --- searching -------------------------------------------------------------------------


def binary_search(rng: random.Random, size: int) -> Instance:
    """``size`` distinct sorted elements; the target is present half of the time."""
    count = max(size, 1)
    values = sorted(rng.sample(range(-2 * count, 4 * count), count))
    if rng.random() < 0.5:
        target = rng.choice(values)
    else:
        target = rng.choice([x for x in range(-2 * count - 1, 4 * count + 1) if x not in values])
    return {"values": values, "target": target}


def lower_bound(rng: random.Random, size: int) -> Instance:
    """``size`` sorted elements with duplicates; the target may lie outside their range."""
    count = max(size, 1)
    values = sorted(rng.randint(0, count) for _ in range(count))
    return {"values": values, "target": rng.randint(-1, count + 1)}


def upper_bound(rng: random.Random, size: int) -> Instance:
    """``size`` sorted elements with duplicates; the target may lie outside their range."""
    return lower_bound(rng, size)


def ternary_search_peak(rng: random.Random, size: int) -> Instance:
    """``size`` distinct elements rising strictly to one peak, then falling strictly."""
    count = max(size, 1)
    pool = sorted(rng.sample(range(5 * count), count))
    peak = pool.pop()
    rising = sorted(rng.sample(pool, rng.randint(0, len(pool))))
    falling = sorted((x for x in pool if x not in rising), reverse=True)
    return {"values": [*rising, peak, *falling]}


def quickselect(rng: random.Random, size: int) -> Instance:
    """Quadratic worst case: 2 + size // 2 elements (4, 6, 8) and a rank k among them."""
    values = _values(rng, _shrink(size, 2))
    return {"values": values, "k": rng.randrange(len(values))}


# --- graphs ----------------------------------------------------------------------------


def bfs(rng: random.Random, size: int) -> Instance:
    """An undirected graph of 2 + size // 2 vertices (4, 6, 8), about as many edges, maybe
    disconnected."""
    n = _shrink(size, 2)
    pairs = _random_pairs(rng, n, n - 1 + rng.randint(0, 1))
    return {"adjacency": _adjacency(n, pairs), "source": rng.randrange(n)}


def dfs(rng: random.Random, size: int) -> Instance:
    """An undirected graph of 2 + size // 2 vertices (4, 6, 8), about as many edges, maybe
    disconnected."""
    return bfs(rng, size)


def dijkstra(rng: random.Random, size: int) -> Instance:
    """A directed graph of 2 + size // 3 vertices (3, 4, 6) and about 1.5 edges per vertex,
    weights 0 to 9."""
    n = _shrink(size, 3)
    edges = [[u, v, rng.randint(0, 9)] for u, v in _directed_edges(rng, n, n + n // 2)]
    return {"n": n, "edges": edges, "source": rng.randrange(n)}


def bellman_ford(rng: random.Random, size: int) -> Instance:
    """A directed graph of 2 + size // 4 vertices (3, 4, 5) and about 1.5 edges per vertex;
    some weights are negative but no cycle is (``_potential_weights``)."""
    n = _shrink(size, 4)
    edges = _potential_weights(rng, n, _directed_edges(rng, n, n + n // 2))
    return {"n": n, "edges": edges, "source": rng.randrange(n)}


def floyd_warshall(rng: random.Random, size: int) -> Instance:
    """Cubic trace (a 4-vertex graph is over budget): 3 vertices (2 below size 4) and
    2 + size // 4 edges (3, 4, 5 of the 6 possible); some weights are negative but no cycle
    is."""
    n = min(3, _shrink(size, 4))
    return {"n": n, "edges": _potential_weights(rng, n, _directed_edges(rng, n, _shrink(size, 4)))}


def topological_sort(rng: random.Random, size: int) -> Instance:
    """A DAG of 2 + size // 2 vertices (4, 6, 8) and about as many edges."""
    n = _shrink(size, 2)
    return {"n": n, "edges": _dag_edges(rng, n, n + rng.randint(-1, 1))}


def kruskal(rng: random.Random, size: int) -> Instance:
    """A connected undirected graph of 2 + size // 2 vertices (4, 6, 8), n // 2 edges beyond a
    spanning tree, distinct weights."""
    n = _shrink(size, 2)
    return {"n": n, "edges": _distinct_weights(rng, _connected_pairs(rng, n, n // 2))}


def prim(rng: random.Random, size: int) -> Instance:
    """A connected undirected graph of 2 + size // 4 vertices (3, 4, 5), n // 2 edges beyond a
    spanning tree, distinct weights."""
    n = _shrink(size, 4)
    return {"n": n, "edges": _distinct_weights(rng, _connected_pairs(rng, n, n // 2))}


def connected_components(rng: random.Random, size: int) -> Instance:
    """An undirected graph of ``size`` vertices and about 2/3 as many edges (several
    components)."""
    n = max(size, 1)
    return {"n": n, "edges": _random_pairs(rng, n, 2 * n // 3)}


def strongly_connected_components(rng: random.Random, size: int) -> Instance:
    """A directed graph of 2 + size // 3 vertices (3, 4, 6) and about 1.5 edges per vertex."""
    n = _shrink(size, 3)
    return {"n": n, "edges": _directed_edges(rng, n, n + n // 2)}


def is_bipartite(rng: random.Random, size: int) -> Instance:
    """An undirected graph of 2 + size // 2 vertices (4, 6, 8); half the time its edges all
    cross a random split of the vertices (bipartite), otherwise they are random."""
    n = _shrink(size, 2)
    if rng.random() < 0.5:
        side = [rng.randint(0, 1) for _ in range(n)]
        crossing = [[u, v] for u in range(n) for v in range(u + 1, n) if side[u] != side[v]]
        pairs = rng.sample(crossing, min(n, len(crossing)))
    else:
        pairs = _random_pairs(rng, n, n)
    return {"adjacency": _adjacency(n, pairs)}


# --- dynamic programming ---------------------------------------------------------------


def longest_common_subsequence(rng: random.Random, size: int) -> Instance:
    """Quadratic table: two strings of 2 + size // 4 letters (3, 4, 5) over "abc"."""
    length = _shrink(size, 4)
    return {"first": _word(rng, length, "abc"), "second": _word(rng, length, "abc")}


def edit_distance(rng: random.Random, size: int) -> Instance:
    """Quadratic table: two strings of 2 + size // 4 letters (3, 4, 5) over "abc"."""
    length = _shrink(size, 4)
    return {"source": _word(rng, length, "abc"), "target": _word(rng, length, "abc")}


def knapsack_01(rng: random.Random, size: int) -> Instance:
    """Items x capacity table: 2 + size // 4 items (3, 4, 5) of weight 1 to 5, capacity up to
    2 + size // 3 (3, 4, 6)."""
    count = _shrink(size, 4)
    weights = [rng.randint(1, 5) for _ in range(count)]
    values = [rng.randint(1, 20) for _ in range(count)]
    return {"weights": weights, "values": values, "capacity": rng.randint(1, _shrink(size, 3))}


def longest_increasing_subsequence(rng: random.Random, size: int) -> Instance:
    """``size`` elements."""
    return {"values": _values(rng, max(size, 1), 0, 30)}


def coin_change(rng: random.Random, size: int) -> Instance:
    """Amount x coins table: two or three coins of 1 to 7, amount 1 to 2 + size // 2 (4, 6, 8)."""
    coins = sorted(rng.sample(range(1, 8), rng.randint(2, 3)))
    return {"coins": coins, "amount": rng.randint(1, _shrink(size, 2))}


def matrix_chain_order(rng: random.Random, size: int) -> Instance:
    """Cubic table: a chain of 3 + size // 8 matrices (3, 4, 4) with dimensions 1 to 9."""
    return {"dimensions": [rng.randint(1, 9) for _ in range(_shrink(size, 8, base=3) + 1)]}


def rod_cutting(rng: random.Random, size: int) -> Instance:
    """Quadratic table: a rod of length 2 + size // 3 (3, 4, 6); a piece of length L sells for
    about 2L to 3L."""
    length = _shrink(size, 3)
    return {"prices": [rng.randint(2 * piece - 1, 3 * piece) for piece in range(1, length + 1)]}


def max_subarray_sum(rng: random.Random, size: int) -> Instance:
    """``size`` elements between -9 and 9."""
    return {"values": _values(rng, max(size, 1), -9, 9)}


def subset_sum(rng: random.Random, size: int) -> Instance:
    """Items x target table: 2 + size // 4 values (3, 4, 5) of 1 to 6; the target is up to
    2 + size // 3 (3, 4, 6) and is reachable about half of the time."""
    values = [rng.randint(1, 6) for _ in range(_shrink(size, 4))]
    limit = _shrink(size, 3)
    sums = {sum(rng.sample(values, k)) for k in range(len(values) + 1)}
    reachable = sorted(s for s in sums if s <= limit)
    target = rng.choice(reachable) if rng.random() < 0.5 else rng.randint(0, limit)
    return {"values": values, "target": target}


# --- strings ---------------------------------------------------------------------------


def kmp_search(rng: random.Random, size: int) -> Instance:
    """A text of ``size`` letters over "ab" and a pattern of 1 + size // 4 letters (2, 3, 4),
    taken from the text half of the time."""
    length = max(size, 1)
    text = _word(rng, length, "ab")
    pattern_length = min(1 + size // 4, length)
    if rng.random() < 0.5:
        start = rng.randint(0, length - pattern_length)
        pattern = text[start : start + pattern_length]
    else:
        pattern = _word(rng, pattern_length, "ab")
    return {"text": text, "pattern": pattern}


def z_function(rng: random.Random, size: int) -> Instance:
    """A text of ``size`` letters over "ab"."""
    return {"text": _word(rng, max(size, 1), "ab")}


def longest_palindromic_substring(rng: random.Random, size: int) -> Instance:
    """2n - 1 centres, each grown outwards: a text of 3 + size // 4 letters (4, 5, 6) over
    "ab" or "abc"."""
    return {"text": _word(rng, _shrink(size, 4, base=3), rng.choice(["ab", "abc"]))}


def is_palindrome(rng: random.Random, size: int) -> Instance:
    """A phrase of about ``size`` characters: letters of mixed case with spaces and
    punctuation; its letters read the same both ways half of the time."""
    letters = _word(rng, max(size // 2, 1), "abcde")
    if rng.random() < 0.5:
        letters += letters[::-1][rng.randint(0, 1) :]
    else:
        letters += _word(rng, len(letters), "abcde")
    phrase = []
    for letter in letters:
        if rng.random() < 0.2:
            phrase.append(rng.choice(" ,.!"))
        phrase.append(letter.upper() if rng.random() < 0.3 else letter)
    return {"text": "".join(phrase)}


def rabin_karp_search(rng: random.Random, size: int) -> Instance:
    """A text of ``size`` letters over "ab" and a pattern of 1 + size // 4 letters (2, 3, 4),
    taken from the text half of the time."""
    return kmp_search(rng, size)


def run_length_encoding(rng: random.Random, size: int) -> Instance:
    """A text of ``size`` letters in runs of one to four."""
    text = ""
    while len(text) < max(size, 1):
        text += rng.choice("abc") * rng.randint(1, 4)
    return {"text": text[: max(size, 1)]}


# --- number theory ---------------------------------------------------------------------


def gcd(rng: random.Random, size: int) -> Instance:
    """Two numbers up to 2 ** size sharing a common factor most of the time."""
    high = 2 ** max(size, 1)
    common = rng.randint(1, max(1, high // 16))
    return {"a": common * rng.randint(0, high // common), "b": common * rng.randint(1, high // common)}


def extended_gcd(rng: random.Random, size: int) -> Instance:
    """Two numbers up to 2 ** size sharing a common factor most of the time."""
    return gcd(rng, size)


def sieve_of_eratosthenes(rng: random.Random, size: int) -> Instance:
    """A limit between 2 * size and 3 * size."""
    return {"limit": rng.randint(2 * size, 3 * size)}


def mod_pow(rng: random.Random, size: int) -> Instance:
    """An exponent of exactly ``size`` bits; base and modulus below 1000."""
    bits = max(size, 1)
    exponent = rng.getrandbits(bits) | (1 << (bits - 1))
    return {"base": rng.randint(2, 999), "exponent": exponent, "modulus": rng.randint(2, 999)}


def prime_factorization(rng: random.Random, size: int) -> Instance:
    """Trial division up to the square root: a number from 2 to 3 * size ** 2 (48, 192, 432)."""
    return {"number": rng.randint(2, max(3 * size * size, 2))}


def mod_inverse(rng: random.Random, size: int) -> Instance:
    """A modulus below 2 ** size; ``a`` is coprime with it most of the time."""
    modulus = rng.randint(2, max(2 ** max(size, 1), 3))
    return {"a": rng.randint(1, modulus - 1), "modulus": modulus}


def euler_phi(rng: random.Random, size: int) -> Instance:
    """Trial division up to the square root: a number from 1 to 3 * size ** 2 (48, 192, 432)."""
    return {"number": rng.randint(1, max(3 * size * size, 1))}


# --- geometry --------------------------------------------------------------------------


def convex_hull(rng: random.Random, size: int) -> Instance:
    """``size`` distinct points on a small grid (collinear points are common)."""
    side = max(size // 2, 2)
    grid = [[x, y] for x in range(side + 1) for y in range(side + 1)]
    return {"points": rng.sample(grid, min(max(size, 1), len(grid)))}


def polygon_area(rng: random.Random, size: int) -> Instance:
    """A simple polygon of up to ``size`` vertices (at least 4): one point in each quadrant
    around the origin, the rest anywhere, taken in order of angle (star-shaped)."""
    reach = max(size, 4)
    corners = [[1, 1], [-1, 1], [-1, -1], [1, -1]]
    points = [[sx * rng.randint(1, reach), sy * rng.randint(1, reach)] for sx, sy in corners]
    for _ in range(max(size, 4) - 4):
        x, y = rng.randint(-reach, reach), rng.randint(-reach, reach)
        if (x, y) != (0, 0):
            points.append([x, y])
    by_direction: dict[tuple[int, int], list[int]] = {}
    for x, y in points:  # one point per direction, so the polygon does not touch itself
        step = math.gcd(x, y)
        by_direction.setdefault((x // step, y // step), [x, y])
    ordered = sorted(by_direction.values(), key=lambda p: math.atan2(p[1], p[0]))
    start = rng.randrange(len(ordered))
    return {"points": ordered[start:] + ordered[:start]}


def segments_intersect(rng: random.Random, size: int) -> Instance:
    """Two segments with endpoints on a grid of side 2 + size // 4 (touching and collinear
    cases are common)."""
    side = _shrink(size, 4)

    def point() -> list[int]:
        return [rng.randint(0, side), rng.randint(0, side)]

    return {"p1": point(), "p2": point(), "p3": point(), "p4": point()}


def closest_pair(rng: random.Random, size: int) -> Instance:
    """Quadratic worst case: 2 + size // 3 points (3, 4, 6) on a grid of side 3 * size."""
    side = 3 * max(size, 1)
    return {"points": [[rng.randint(0, side), rng.randint(0, side)] for _ in range(_shrink(size, 3))]}
