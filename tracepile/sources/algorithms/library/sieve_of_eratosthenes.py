def sieve_of_eratosthenes(limit: int) -> list[int]:
    """All primes up to a limit with the sieve of Eratosthenes. The input `limit` is a
    non-negative integer; the result is the ascending list of prime numbers p with p <= limit.
    Starting from 2, every number still marked prime crosses out its multiples from its own
    square upwards; crossing out stops once the square exceeds the limit."""
    if limit < 2:
        return []
    is_prime = [True] * (limit + 1)
    is_prime[0] = False
    is_prime[1] = False
    candidate = 2
    while candidate * candidate <= limit:
        if is_prime[candidate]:
            for multiple in range(candidate * candidate, limit + 1, candidate):
                is_prime[multiple] = False
        candidate += 1
    return [number for number in range(limit + 1) if is_prime[number]]
