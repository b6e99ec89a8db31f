def cross(origin: list[int], a: list[int], b: list[int]) -> int:
    """Cross product of the vectors origin->a and origin->b; positive for a left turn."""
    return (a[0] - origin[0]) * (b[1] - origin[1]) - (a[1] - origin[1]) * (b[0] - origin[0])


def convex_hull(points: list[list[int]]) -> list[list[int]]:
    """Convex hull of a set of points with Andrew's monotone chain algorithm. The input `points`
    is a list of distinct [x, y] integer points; the result is the list of the hull's corner
    points in counter-clockwise order, starting from the lowest-x point (lowest y among ties),
    with points lying on the hull's edges left out. The points are sorted by x then y; the
    lower hull is built left to right and the upper hull right to left, popping the last point
    while it does not make a strict left turn."""
    ordered = sorted(points)
    if len(ordered) < 3:
        return ordered
    lower = []
    for point in ordered:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], point) <= 0:
            lower.pop()
        lower.append(point)
    upper = []
    for point in reversed(ordered):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], point) <= 0:
            upper.pop()
        upper.append(point)
    return lower[:-1] + upper[:-1]
