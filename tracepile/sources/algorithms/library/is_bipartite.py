from collections import deque


def is_bipartite(adjacency: list[list[int]]) -> bool:
    """Decide whether an undirected graph is bipartite by two-colouring it with breadth-first
    search. The graph has vertices 0..n-1 with n = len(adjacency), and adjacency[v] lists the
    neighbours of vertex v (each edge appears in both lists). The result is True when the
    vertices can be split into two sides with every edge joining the two sides, else False.
    Each uncoloured vertex starts a search that gives every neighbour the opposite colour; a
    neighbour that already has the same colour proves an odd cycle."""
    color = [None] * len(adjacency)
    for start in range(len(adjacency)):
        if color[start] is not None:
            continue
        color[start] = 0
        queue = deque([start])
        while queue:
            vertex = queue.popleft()
            for neighbor in adjacency[vertex]:
                if color[neighbor] is None:
                    color[neighbor] = 1 - color[vertex]
                    queue.append(neighbor)
                elif color[neighbor] == color[vertex]:
                    return False
    return True
