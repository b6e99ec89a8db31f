def radix_sort(values: list[int]) -> list[int]:
    """Sort a list of non-negative integers with least-significant-digit radix sort. The input
    `values` is a list of integers >= 0; the result is a new list with the same integers in
    non-decreasing order. The numbers are distributed into ten buckets by their ones digit, then
    by their tens digit, and so on up to the highest digit of the largest number; collecting
    the buckets in order after each pass keeps every pass stable."""
    result = list(values)
    if not result:
        return result
    largest = max(result)
    place = 1
    while largest // place > 0:
        buckets = [[] for _ in range(10)]
        for value in result:
            digit = value // place % 10
            buckets[digit].append(value)
        result = [value for bucket in buckets for value in bucket]
        place *= 10
    return result
