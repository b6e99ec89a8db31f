def polygon_area(points: list[list[int]]) -> float:
    """Area of a simple polygon with the shoelace formula. The input `points` lists the
    polygon's vertices as [x, y] integer points in order around the boundary (clockwise or
    counter-clockwise); the result is the enclosed area as a number. Half the sum of the cross
    products x_i * y_(i+1) - x_(i+1) * y_i over consecutive vertices, wrapping around from the
    last vertex to the first, is the signed area; its absolute value is the area."""
    twice_area = 0
    for i in range(len(points)):
        x1, y1 = points[i]
        x2, y2 = points[(i + 1) % len(points)]
        twice_area += x1 * y2 - x2 * y1
    return abs(twice_area) / 2
