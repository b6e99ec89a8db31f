def closest_pair(points: list[list[int]]) -> int:
    """Smallest distance between two points, by a sweep over the points sorted by x. The input
    `points` is a list of at least two [x, y] integer points; the result is the smallest squared
    Euclidean distance (dx * dx + dy * dy) between two of them (0 if a point is repeated). For
    each point only the following points are examined, and the scan stops as soon as the gap in
    x alone is at least the best distance found so far."""
    ordered = sorted(points)
    best = None
    for i in range(len(ordered)):
        for j in range(i + 1, len(ordered)):
            dx = ordered[j][0] - ordered[i][0]
            if best is not None and dx * dx >= best:
                break
            dy = ordered[j][1] - ordered[i][1]
            distance = dx * dx + dy * dy
            if best is None or distance < best:
                best = distance
    return best
