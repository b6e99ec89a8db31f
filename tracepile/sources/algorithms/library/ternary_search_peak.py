def ternary_search_peak(values: list[int]) -> int:
    """Find the peak of a unimodal list with ternary search. The input `values` is a non-empty
    list of integers that strictly increases up to a single maximum and then strictly
    decreases (either part may be empty); the result is the index of the maximum. Two probes
    split the range [low, high] into thirds: if the left probe is smaller than the right one,
    the peak lies right of the left probe, otherwise it lies left of the right probe. The last
    few candidates are compared directly."""
    low = 0
    high = len(values) - 1
    while high - low > 2:
        third = (high - low) // 3
        left_probe = low + third
        right_probe = high - third
        if values[left_probe] < values[right_probe]:
            low = left_probe + 1
        else:
            high = right_probe - 1
    peak = low
    for i in range(low + 1, high + 1):
        if values[i] > values[peak]:
            peak = i
    return peak
