def z_function(text: str) -> list[int]:
    """The Z-array of a string. The input `text` is a string; the result is a list z of the same
    length where z[i] is the length of the longest common prefix of `text` and text[i:], with
    z[0] = len(text) by convention. The rightmost match window [left, right) found so far
    gives each position a starting value, which is then extended character by character."""
    n = len(text)
    z = [0] * n
    if n > 0:
        z[0] = n
    left = 0
    right = 0
    for i in range(1, n):
        if i < right:
            z[i] = min(right - i, z[i - left])
        while i + z[i] < n and text[z[i]] == text[i + z[i]]:
            z[i] += 1
        if i + z[i] > right:
            left = i
            right = i + z[i]
    return z
