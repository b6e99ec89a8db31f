def mod_pow(base: int, exponent: int, modulus: int) -> int:
    """Modular exponentiation by repeated squaring. The inputs are a non-negative `base`, a
    non-negative `exponent` and a positive `modulus`; the result is base ** exponent modulo
    `modulus`. The exponent is read bit by bit from the lowest: the base is squared at every
    step and multiplied into the result whenever the current bit is 1."""
    result = 1 % modulus
    base = base % modulus
    while exponent > 0:
        if exponent % 2 == 1:
            result = result * base % modulus
        base = base * base % modulus
        exponent //= 2
    return result
