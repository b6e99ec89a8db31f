def prime_factorization(number: int) -> list[int]:
    """Prime factorisation by trial division. The input `number` is an integer >= 2; the result
    is the ascending list of its prime factors, each repeated as often as it divides `number`
    (so their product is `number`). Candidate divisors are tried from 2 upwards, each divided
    out completely; once the divisor's square exceeds what is left, the rest is 1 or prime."""
    factors = []
    divisor = 2
    while divisor * divisor <= number:
        while number % divisor == 0:
            factors.append(divisor)
            number //= divisor
        divisor += 1
    if number > 1:
        factors.append(number)
    return factors
