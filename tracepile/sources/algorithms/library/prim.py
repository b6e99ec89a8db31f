import heapq


def prim(n: int, edges: list[list[int]]) -> dict[str, int | list[list[int]]]:
    """Minimum spanning tree of a connected undirected graph with Prim's algorithm. The graph has
    vertices 0..n-1 and `edges` lists its edges as [u, v, w] triples with distinct weights. The
    result is a dict with "weight", the total weight of the tree, and "edges", the tree's edges
    as [parent, vertex, w] in the order the vertices joined the tree. The tree grows from
    vertex 0; a min-priority queue holds the edges leaving the tree and the lightest one that
    reaches a new vertex is added next."""
    adjacency = [[] for _ in range(n)]
    for u, v, weight in edges:
        adjacency[u].append((weight, v))
        adjacency[v].append((weight, u))
    in_tree = [False] * n
    tree = []
    total = 0
    queue = [(0, 0, -1)]
    while queue:
        weight, vertex, parent = heapq.heappop(queue)
        if in_tree[vertex]:
            continue
        in_tree[vertex] = True
        if parent != -1:
            tree.append([parent, vertex, weight])
            total += weight
        for edge_weight, neighbor in adjacency[vertex]:
            if not in_tree[neighbor]:
                heapq.heappush(queue, (edge_weight, neighbor, vertex))
    return {"weight": total, "edges": tree}
