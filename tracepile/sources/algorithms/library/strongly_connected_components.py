def finishing_order(graph: list[list[int]]) -> list[int]:
    """The vertices of `graph` in the order a depth-first search finishes them."""
    visited = [False] * len(graph)
    finished = []

    def visit(vertex: int) -> None:
        visited[vertex] = True
        for neighbor in graph[vertex]:
            if not visited[neighbor]:
                visit(neighbor)
        finished.append(vertex)

    for vertex in range(len(graph)):
        if not visited[vertex]:
            visit(vertex)
    return finished


def strongly_connected_components(n: int, edges: list[list[int]]) -> list[list[int]]:
    """Strongly connected components of a directed graph with Kosaraju's algorithm. The graph
    has vertices 0..n-1 and `edges` lists its edges as [u, v] pairs (an edge from u to v). The
    result is the list of components, each an ascending list of its vertices, ordered by their
    smallest vertex. A first depth-first search orders the vertices by finishing time; a second
    search on the reversed graph, starting from each not yet assigned vertex in reverse
    finishing order, collects exactly one component per start."""
    graph = [[] for _ in range(n)]
    reverse = [[] for _ in range(n)]
    for u, v in edges:
        graph[u].append(v)
        reverse[v].append(u)
    order = finishing_order(graph)
    assigned = [False] * n
    components = []
    for start in reversed(order):
        if assigned[start]:
            continue
        assigned[start] = True
        component = []
        stack = [start]
        while stack:
            vertex = stack.pop()
            component.append(vertex)
            for neighbor in reverse[vertex]:
                if not assigned[neighbor]:
                    assigned[neighbor] = True
                    stack.append(neighbor)
        components.append(sorted(component))
    return sorted(components)
