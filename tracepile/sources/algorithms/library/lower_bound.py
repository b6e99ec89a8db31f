def lower_bound(values: list[int], target: int) -> int:
    """Find where a target would be inserted into a sorted list, before any equal elements. The
    input `values` is a list of integers in non-decreasing order (duplicates allowed) and
    `target` is an integer; the result is the smallest index i with values[i] >= target, or
    len(values) when every element is smaller. A binary search narrows the half-open range
    [low, high) that holds the answer."""
    low = 0
    high = len(values)
    while low < high:
        middle = (low + high) // 2
        if values[middle] < target:
            low = middle + 1
        else:
            high = middle
    return low
