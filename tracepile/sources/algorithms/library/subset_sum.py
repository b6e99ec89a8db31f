def subset_sum(values: list[int], target: int) -> bool:
    """Decide whether some items add up exactly to a target, by dynamic programming. The input
    `values` is a list of positive integers and `target` a non-negative integer; the result is
    True when a subset of the values (each used at most once) sums to `target`, else False.
    reachable[total] records whether the values seen so far can make `total`; totals are
    updated from high to low so each value is used once."""
    reachable = [False] * (target + 1)
    reachable[0] = True
    for value in values:
        for total in range(target, value - 1, -1):
            if reachable[total - value]:
                reachable[total] = True
    return reachable[target]
