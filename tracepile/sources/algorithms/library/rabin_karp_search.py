def rabin_karp_search(text: str, pattern: str) -> list[int]:
    """Find every occurrence of a pattern in a text with the Rabin-Karp rolling hash. The inputs
    are strings and `pattern` is non-empty; the result is the ascending list of indices where
    `pattern` starts in `text` (occurrences may overlap). The hash of each window of
    len(pattern) characters is a base-256 number modulo 101, updated in constant time as the
    window slides; only windows whose hash equals the pattern's are compared character by
    character."""
    base = 256
    modulus = 101
    n = len(text)
    m = len(pattern)
    if m > n:
        return []
    leading_weight = pow(base, m - 1, modulus)
    pattern_hash = 0
    window_hash = 0
    for i in range(m):
        pattern_hash = (pattern_hash * base + ord(pattern[i])) % modulus
        window_hash = (window_hash * base + ord(text[i])) % modulus
    matches = []
    for start in range(n - m + 1):
        if window_hash == pattern_hash and text[start : start + m] == pattern:
            matches.append(start)
        if start < n - m:
            window_hash = (window_hash - ord(text[start]) * leading_weight) * base
            window_hash = (window_hash + ord(text[start + m])) % modulus
    return matches
