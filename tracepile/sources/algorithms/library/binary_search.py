def binary_search(values: list[int], target: int) -> int:
    """Find a target in a sorted list with binary search. The input `values` is a list of
    distinct integers in ascending order and `target` is an integer; the result is the index of
    `target` in `values`, or -1 when it is absent. The search keeps a range [low, high] that
    must contain the target and compares the target with the middle element to halve it."""
    low = 0
    high = len(values) - 1
    while low <= high:
        middle = (low + high) // 2
        if values[middle] == target:
            return middle
        if values[middle] < target:
            low = middle + 1
        else:
            high = middle - 1
    return -1
