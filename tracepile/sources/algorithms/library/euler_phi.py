def euler_phi(number: int) -> int:
    """Euler's totient function by trial division. The input `number` is a positive integer; the
    result is how many integers k with 1 <= k <= number have no common factor with `number`
    other than 1. Starting from phi = number, every distinct prime factor p found by trial
    division multiplies phi by (1 - 1/p)."""
    result = number
    remaining = number
    divisor = 2
    while divisor * divisor <= remaining:
        if remaining % divisor == 0:
            while remaining % divisor == 0:
                remaining //= divisor
            result -= result // divisor
        divisor += 1
    if remaining > 1:
        result -= result // remaining
    return result
