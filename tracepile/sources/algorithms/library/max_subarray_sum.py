def max_subarray_sum(values: list[int]) -> int:
    """Largest sum of a contiguous subarray with Kadane's algorithm. The input `values` is a
    non-empty list of integers (possibly negative); the result is the largest sum of a
    non-empty run of consecutive elements. Scanning left to right, the best subarray ending at
    the current element either extends the best one ending just before it or starts afresh."""
    best_ending_here = values[0]
    best = values[0]
    for value in values[1:]:
        best_ending_here = max(value, best_ending_here + value)
        best = max(best, best_ending_here)
    return best
