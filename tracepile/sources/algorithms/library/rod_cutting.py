def rod_cutting(prices: list[int]) -> int:
    """Most profitable way to cut a rod, by dynamic programming. prices[i] is the selling price
    of a piece of length i + 1, and the rod to cut has length len(prices); the result is the
    largest total price obtainable by cutting the rod into integer-length pieces (possibly not
    cutting it at all). revenue[length] is the best price for a rod of that length, found by
    trying every length for the first piece."""
    n = len(prices)
    revenue = [0] * (n + 1)
    for length in range(1, n + 1):
        best = 0
        for first_piece in range(1, length + 1):
            candidate = prices[first_piece - 1] + revenue[length - first_piece]
            if candidate > best:
                best = candidate
        revenue[length] = best
    return revenue[n]
