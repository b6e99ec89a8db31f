def insertion_sort(values: list[int]) -> list[int]:
    """Sort a list of integers in ascending order with insertion sort. The input `values` is a
    list of integers; the result is a new list with the same integers in non-decreasing order.
    Each element in turn becomes the key and is moved left past every larger element of the
    already sorted prefix."""
    result = list(values)
    for i in range(1, len(result)):
        key = result[i]
        j = i - 1
        while j >= 0 and result[j] > key:
            result[j + 1] = result[j]
            j -= 1
        result[j + 1] = key
    return result
