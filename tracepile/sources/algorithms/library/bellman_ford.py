def bellman_ford(n: int, edges: list[list[int]], source: int) -> list[int | None] | None:
    """Single-source shortest paths with the Bellman-Ford algorithm, which allows negative edge
    weights. The directed graph has vertices 0..n-1 and `edges` lists its edges as [u, v, w]
    triples: an edge from u to v of weight w (possibly negative). The result is a list whose
    entry v is the length of a shortest path from `source` to v, or None when v cannot be
    reached; the whole result is None when a negative-weight cycle is reachable from `source`.
    Every round relaxes all edges; without negative cycles the distances stop changing within
    n rounds."""
    infinity = float("inf")
    distance = [infinity] * n
    distance[source] = 0
    for _ in range(n):
        changed = False
        for u, v, weight in edges:
            if distance[u] + weight < distance[v]:
                distance[v] = distance[u] + weight
                changed = True
        if not changed:
            return [None if d == infinity else d for d in distance]
    return None
