def dfs(adjacency: list[list[int]], source: int) -> list[int]:
    """Depth-first search order of a graph from a source vertex. The graph has vertices 0..n-1
    with n = len(adjacency), and adjacency[v] lists the neighbours of vertex v in the order they
    are explored. The result is the list of vertices reachable from `source` in the order DFS
    first visits them (preorder). An explicit stack replaces recursion: neighbours are pushed
    in reverse so that the first listed neighbour is explored first."""
    visited = [False] * len(adjacency)
    order = []
    stack = [source]
    while stack:
        vertex = stack.pop()
        if visited[vertex]:
            continue
        visited[vertex] = True
        order.append(vertex)
        for neighbor in reversed(adjacency[vertex]):
            if not visited[neighbor]:
                stack.append(neighbor)
    return order
