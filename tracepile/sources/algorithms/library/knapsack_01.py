def knapsack_01(weights: list[int], values: list[int], capacity: int) -> int:
    """The 0/1 knapsack problem by dynamic programming. Item i has weight weights[i] > 0 and
    value values[i] >= 0, each item can be taken at most once, and `capacity` is the largest
    total weight allowed; the result is the largest total value of a selection of items whose
    total weight is at most `capacity`. best[c] holds the best value within capacity c using the
    items seen so far; capacities are updated from high to low so each item is used once."""
    best = [0] * (capacity + 1)
    for item in range(len(weights)):
        weight = weights[item]
        value = values[item]
        for remaining in range(capacity, weight - 1, -1):
            candidate = best[remaining - weight] + value
            if candidate > best[remaining]:
                best[remaining] = candidate
    return best[capacity]
