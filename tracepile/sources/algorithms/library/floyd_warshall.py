def floyd_warshall(n: int, edges: list[list[int]]) -> list[list[int | None]]:
    """All-pairs shortest paths with the Floyd-Warshall algorithm. The directed graph has
    vertices 0..n-1 and `edges` lists its edges as [u, v, w] triples: an edge from u to v of
    weight w (negative weights are allowed, negative cycles are not). The result is an n x n
    matrix whose entry [i][j] is the length of a shortest path from i to j, or None when j
    cannot be reached from i. Round k allows vertex k as an intermediate vertex and improves
    every pair i, j whose path through k is shorter."""
    infinity = float("inf")
    distance = [[infinity] * n for _ in range(n)]
    for vertex in range(n):
        distance[vertex][vertex] = 0
    for u, v, weight in edges:
        distance[u][v] = min(distance[u][v], weight)
    for k in range(n):
        for i in range(n):
            for j in range(n):
                if distance[i][k] + distance[k][j] < distance[i][j]:
                    distance[i][j] = distance[i][k] + distance[k][j]
    return [[None if d == infinity else d for d in row] for row in distance]
