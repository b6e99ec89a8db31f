from collections import deque


def bfs(adjacency: list[list[int]], source: int) -> list[int | None]:
    """Breadth-first search for the fewest-edge distances from a source vertex. The graph has
    vertices 0..n-1 with n = len(adjacency), and adjacency[v] lists the neighbours of vertex v.
    The result is a list whose entry v is the number of edges on a shortest path from `source`
    to v, or None when v cannot be reached. Vertices are visited in first-in first-out order,
    so each vertex is reached first along a shortest path."""
    distance = [None] * len(adjacency)
    distance[source] = 0
    queue = deque([source])
    while queue:
        vertex = queue.popleft()
        for neighbor in adjacency[vertex]:
            if distance[neighbor] is None:
                distance[neighbor] = distance[vertex] + 1
                queue.append(neighbor)
    return distance
