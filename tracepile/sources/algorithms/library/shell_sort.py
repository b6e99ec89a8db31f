def shell_sort(values: list[int]) -> list[int]:
    """Sort a list of integers in ascending order with Shell sort. The input `values` is a list
    of integers; the result is a new list with the same integers in non-decreasing order. The
    list is insertion-sorted on elements `gap` apart, with the gap starting at half the length
    and halving after each round until a final round with gap 1."""
    result = list(values)
    gap = len(result) // 2
    while gap > 0:
        for i in range(gap, len(result)):
            current = result[i]
            j = i
            while j >= gap and result[j - gap] > current:
                result[j] = result[j - gap]
                j -= gap
            result[j] = current
        gap //= 2
    return result
