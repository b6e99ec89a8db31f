def extended_gcd(a: int, b: int) -> list[int]:
    """Extended Euclidean algorithm. The inputs `a` and `b` are non-negative integers; the
    result is a list [g, x, y] where g is the greatest common divisor of a and b and the
    integers x and y satisfy a * x + b * y = g (Bezout coefficients). Alongside each remainder
    of Euclid's algorithm the coefficients that express it as a combination of a and b are
    carried."""
    remainder, next_remainder = a, b
    x, next_x = 1, 0
    y, next_y = 0, 1
    while next_remainder != 0:
        quotient = remainder // next_remainder
        remainder, next_remainder = next_remainder, remainder - quotient * next_remainder
        x, next_x = next_x, x - quotient * next_x
        y, next_y = next_y, y - quotient * next_y
    return [remainder, x, y]
