def quickselect(values: list[int], k: int) -> int:
    """Find the k-th smallest element of a list with quickselect. The input `values` is a
    non-empty list of integers and `k` is a 0-based rank with 0 <= k < len(values); the result
    is the element that would be at index k if the list were sorted. The current range is
    partitioned around its last element (Lomuto partition) and the search continues only on the
    side that contains position k."""
    items = list(values)
    low = 0
    high = len(items) - 1
    while True:
        pivot = items[high]
        boundary = low
        for i in range(low, high):
            if items[i] < pivot:
                items[i], items[boundary] = items[boundary], items[i]
                boundary += 1
        items[boundary], items[high] = items[high], items[boundary]
        if k == boundary:
            return items[k]
        if k < boundary:
            high = boundary - 1
        else:
            low = boundary + 1
