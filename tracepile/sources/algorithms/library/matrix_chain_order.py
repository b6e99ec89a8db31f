def matrix_chain_order(dimensions: list[int]) -> int:
    """Cheapest way to multiply a chain of matrices, by dynamic programming. Matrix i of the
    chain has dimensions[i] rows and dimensions[i + 1] columns, so `dimensions` holds one more
    number than there are matrices; the result is the minimum number of scalar multiplications
    needed to compute the whole product, over all ways to parenthesise it. cost[i][j] is the
    cheapest cost for matrices i..j, computed for chains of increasing length by trying every
    split point."""
    count = len(dimensions) - 1
    cost = [[0] * count for _ in range(count)]
    for chain_length in range(2, count + 1):
        for i in range(count - chain_length + 1):
            j = i + chain_length - 1
            best = None
            for split in range(i, j):
                multiplications = dimensions[i] * dimensions[split + 1] * dimensions[j + 1]
                candidate = cost[i][split] + cost[split + 1][j] + multiplications
                if best is None or candidate < best:
                    best = candidate
            cost[i][j] = best
    return cost[0][count - 1]
