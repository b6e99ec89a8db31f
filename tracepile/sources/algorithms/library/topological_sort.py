import heapq


def topological_sort(n: int, edges: list[list[int]]) -> list[int] | None:
    """Order the vertices of a directed acyclic graph so that every edge points forward, with
    Kahn's algorithm. The graph has vertices 0..n-1 and `edges` lists its edges as [u, v]
    pairs, meaning u must come before v. The result is the lexicographically smallest
    topological order (among the vertices with no remaining incoming edges, the smallest is
    always taken next), or None when the graph has a cycle."""
    successors = [[] for _ in range(n)]
    in_degree = [0] * n
    for u, v in edges:
        successors[u].append(v)
        in_degree[v] += 1
    ready = [vertex for vertex in range(n) if in_degree[vertex] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        vertex = heapq.heappop(ready)
        order.append(vertex)
        for successor in successors[vertex]:
            in_degree[successor] -= 1
            if in_degree[successor] == 0:
                heapq.heappush(ready, successor)
    if len(order) < n:
        return None
    return order
