def merge_sort(values: list[int]) -> list[int]:
    """Sort a list of integers in ascending order with merge sort. The input `values` is a list
    of integers; the result is a new list with the same integers in non-decreasing order. The
    list is split into two halves, each half is sorted recursively, and the two sorted halves
    are merged by repeatedly taking the smaller of their front elements."""
    if len(values) <= 1:
        return list(values)
    middle = len(values) // 2
    left = merge_sort(values[:middle])
    right = merge_sort(values[middle:])
    merged = []
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            j += 1
    merged.extend(left[i:])
    merged.extend(right[j:])
    return merged
