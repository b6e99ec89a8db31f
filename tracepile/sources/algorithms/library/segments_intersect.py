def direction(origin: list[int], a: list[int], b: list[int]) -> int:
    """Cross product of origin->b and origin->a: the side of line origin-a on which b lies."""
    return (b[0] - origin[0]) * (a[1] - origin[1]) - (a[0] - origin[0]) * (b[1] - origin[1])


def on_segment(start: list[int], end: list[int], point: list[int]) -> bool:
    """Whether `point`, known to be collinear with the segment, lies within its bounding box."""
    within_x = min(start[0], end[0]) <= point[0] <= max(start[0], end[0])
    within_y = min(start[1], end[1]) <= point[1] <= max(start[1], end[1])
    return within_x and within_y


def segments_intersect(p1: list[int], p2: list[int], p3: list[int], p4: list[int]) -> bool:
    """Decide whether two closed line segments intersect, using cross products only. The first
    segment runs from `p1` to `p2` and the second from `p3` to `p4`, each point an [x, y] pair of
    integers; the result is True when the segments share at least one point (touching ends and
    overlapping collinear segments count), else False. The segments cross properly when each
    one's endpoints lie strictly on opposite sides of the other's line; otherwise an endpoint
    lying on the other segment decides."""
    d1 = direction(p3, p4, p1)
    d2 = direction(p3, p4, p2)
    d3 = direction(p1, p2, p3)
    d4 = direction(p1, p2, p4)
    if ((d1 > 0 and d2 < 0) or (d1 < 0 and d2 > 0)) and ((d3 > 0 and d4 < 0) or (d3 < 0 and d4 > 0)):
        return True
    if d1 == 0 and on_segment(p3, p4, p1):
        return True
    if d2 == 0 and on_segment(p3, p4, p2):
        return True
    if d3 == 0 and on_segment(p1, p2, p3):
        return True
    return d4 == 0 and on_segment(p1, p2, p4)
