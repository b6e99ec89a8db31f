def find(parent: list[int], vertex: int) -> int:
    """The root of the set holding `vertex`, halving the path on the way up."""
    while parent[vertex] != vertex:
        parent[vertex] = parent[parent[vertex]]
        vertex = parent[vertex]
    return vertex


def connected_components(n: int, edges: list[list[int]]) -> list[list[int]]:
    """Connected components of an undirected graph with a union-find (disjoint-set) structure.
    The graph has vertices 0..n-1 and `edges` lists its edges as [u, v] pairs. The result is
    the list of components, each an ascending list of its vertices, ordered by their smallest
    vertex. Every edge unites the sets of its two endpoints; afterwards the vertices are
    grouped by the root of their set."""
    parent = list(range(n))
    for u, v in edges:
        root_u = find(parent, u)
        root_v = find(parent, v)
        if root_u != root_v:
            parent[root_u] = root_v
    components = {}
    for vertex in range(n):
        root = find(parent, vertex)
        if root not in components:
            components[root] = []
        components[root].append(vertex)
    return list(components.values())
