def quick_sort(values: list[int]) -> list[int]:
    """Sort a list of integers in ascending order with quicksort. The input `values` is a list of
    integers; the result is a new list with the same integers in non-decreasing order. Each
    range of the list is partitioned around its last element (Lomuto partition): smaller or
    equal elements go to the left of the pivot, larger ones to its right, and the two sides are
    then sorted the same way, using an explicit stack of ranges still to sort."""
    result = list(values)
    pending = [(0, len(result) - 1)]
    while pending:
        low, high = pending.pop()
        if low >= high:
            continue
        pivot = result[high]
        boundary = low
        for i in range(low, high):
            if result[i] <= pivot:
                result[i], result[boundary] = result[boundary], result[i]
                boundary += 1
        result[boundary], result[high] = result[high], result[boundary]
        pending.append((low, boundary - 1))
        pending.append((boundary + 1, high))
    return result
