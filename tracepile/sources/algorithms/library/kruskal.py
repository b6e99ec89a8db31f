def find(parent: list[int], vertex: int) -> int:
    """The root of the set holding `vertex`, halving the path on the way up."""
    while parent[vertex] != vertex:
        parent[vertex] = parent[parent[vertex]]
        vertex = parent[vertex]
    return vertex


def kruskal(n: int, edges: list[list[int]]) -> dict[str, int | list[list[int]]]:
    """Minimum spanning tree of a connected undirected graph with Kruskal's algorithm. The graph
    has vertices 0..n-1 and `edges` lists its edges as [u, v, w] triples with distinct weights.
    The result is a dict with "weight", the total weight of the tree, and "edges", the tree's
    edges as [u, v, w] in the order they were chosen. Edges are considered from lightest to
    heaviest and an edge is kept when it joins two different components, tracked with a
    union-find structure."""
    parent = list(range(n))
    tree = []
    total = 0
    for u, v, weight in sorted(edges, key=lambda edge: edge[2]):
        root_u = find(parent, u)
        root_v = find(parent, v)
        if root_u != root_v:
            parent[root_u] = root_v
            tree.append([u, v, weight])
            total += weight
            if len(tree) == n - 1:
                break
    return {"weight": total, "edges": tree}
