import heapq


def dijkstra(n: int, edges: list[list[int]], source: int) -> list[int | None]:
    """Single-source shortest paths with Dijkstra's algorithm. The directed graph has vertices
    0..n-1 and `edges` lists its edges as [u, v, w] triples: an edge from u to v of non-negative
    weight w. The result is a list whose entry v is the length of a shortest path from `source`
    to v, or None when v cannot be reached. A min-priority queue always settles the unsettled
    vertex with the smallest tentative distance and relaxes its outgoing edges."""
    adjacency = [[] for _ in range(n)]
    for u, v, weight in edges:
        adjacency[u].append((v, weight))
    infinity = float("inf")
    distance = [infinity] * n
    distance[source] = 0
    queue = [(0, source)]
    while queue:
        vertex_distance, vertex = heapq.heappop(queue)
        if vertex_distance > distance[vertex]:
            continue
        for neighbor, weight in adjacency[vertex]:
            candidate = vertex_distance + weight
            if candidate < distance[neighbor]:
                distance[neighbor] = candidate
                heapq.heappush(queue, (candidate, neighbor))
    return [None if d == infinity else d for d in distance]
