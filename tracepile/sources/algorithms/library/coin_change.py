def coin_change(coins: list[int], amount: int) -> int:
    """Fewest coins that make up an amount, by dynamic programming. The input `coins` lists the
    distinct positive coin denominations, each available in unlimited number, and `amount` is a
    non-negative integer; the result is the smallest number of coins whose values sum to
    `amount`, or -1 when no combination does. fewest[total] is built up from 0 to `amount` by
    trying every coin as the last one used."""
    infinity = float("inf")
    fewest = [0] + [infinity] * amount
    for total in range(1, amount + 1):
        for coin in coins:
            if coin <= total and fewest[total - coin] + 1 < fewest[total]:
                fewest[total] = fewest[total - coin] + 1
    if fewest[amount] == infinity:
        return -1
    return fewest[amount]
