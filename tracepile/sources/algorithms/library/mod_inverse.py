def mod_inverse(a: int, modulus: int) -> int | None:
    """Multiplicative inverse modulo m with the extended Euclidean algorithm. The inputs are an
    integer `a` >= 0 and a `modulus` >= 2; the result is the integer x with 0 <= x < modulus and
    a * x = 1 (mod modulus), or None when a and the modulus share a factor and no inverse
    exists. Euclid's algorithm runs on (modulus, a) while tracking the coefficient of `a` for
    each remainder; the coefficient of the final remainder 1 is the inverse."""
    remainder, next_remainder = modulus, a % modulus
    coefficient, next_coefficient = 0, 1
    while next_remainder != 0:
        quotient = remainder // next_remainder
        remainder, next_remainder = next_remainder, remainder - quotient * next_remainder
        coefficient, next_coefficient = next_coefficient, coefficient - quotient * next_coefficient
    if remainder != 1:
        return None
    return coefficient % modulus
