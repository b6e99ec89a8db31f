def gcd(a: int, b: int) -> int:
    """Greatest common divisor with Euclid's algorithm. The inputs `a` and `b` are non-negative
    integers; the result is the largest integer dividing both (gcd(a, 0) = a, and gcd(0, 0) =
    0). The pair (a, b) is replaced by (b, a mod b) until b becomes 0."""
    while b != 0:
        a, b = b, a % b
    return a
