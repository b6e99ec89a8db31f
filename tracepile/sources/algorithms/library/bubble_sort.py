def bubble_sort(values: list[int]) -> list[int]:
    """Sort a list of integers in ascending order with bubble sort. The input `values` is a list
    of integers; the result is a new list with the same integers in non-decreasing order. Each
    pass swaps adjacent elements that are out of order, which carries the largest remaining
    element to the end; the sort stops early after a pass without any swap."""
    result = list(values)
    for end in range(len(result) - 1, 0, -1):
        swapped = False
        for i in range(end):
            if result[i] > result[i + 1]:
                result[i], result[i + 1] = result[i + 1], result[i]
                swapped = True
        if not swapped:
            break
    return result
