def counting_sort(values: list[int], max_value: int) -> list[int]:
    """Sort a list of small non-negative integers with counting sort. The input `values` is a
    list of integers between 0 and `max_value` inclusive; the result is a new list with the same
    integers in non-decreasing order. The occurrences of each value are counted, the counts are
    turned into prefix sums (the end position of each value in the output), and the input is
    then placed into the output from right to left, which keeps the sort stable."""
    counts = [0] * (max_value + 1)
    for value in values:
        counts[value] += 1
    for value in range(1, max_value + 1):
        counts[value] += counts[value - 1]
    result = [0] * len(values)
    for value in reversed(values):
        counts[value] -= 1
        result[counts[value]] = value
    return result
