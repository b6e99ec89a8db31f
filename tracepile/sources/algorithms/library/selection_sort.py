def selection_sort(values: list[int]) -> list[int]:
    """Sort a list of integers in ascending order with selection sort. The input `values` is a
    list of integers; the result is a new list with the same integers in non-decreasing order.
    For each position from the left, the smallest element of the unsorted suffix is found and
    swapped into that position."""
    result = list(values)
    n = len(result)
    for i in range(n - 1):
        smallest = i
        for j in range(i + 1, n):
            if result[j] < result[smallest]:
                smallest = j
        if smallest != i:
            result[i], result[smallest] = result[smallest], result[i]
    return result
