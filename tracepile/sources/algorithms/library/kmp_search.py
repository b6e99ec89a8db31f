def kmp_search(text: str, pattern: str) -> list[int]:
    """Find every occurrence of a pattern in a text with the Knuth-Morris-Pratt algorithm. The
    inputs are strings and `pattern` is non-empty; the result is the ascending list of indices
    where `pattern` starts in `text` (occurrences may overlap). failure[i] is the length of the
    longest proper prefix of pattern[:i + 1] that is also its suffix; on a mismatch the scan
    falls back through these lengths instead of re-reading the text."""
    failure = [0] * len(pattern)
    matched = 0
    for i in range(1, len(pattern)):
        while matched > 0 and pattern[i] != pattern[matched]:
            matched = failure[matched - 1]
        if pattern[i] == pattern[matched]:
            matched += 1
        failure[i] = matched
    matches = []
    matched = 0
    for i, character in enumerate(text):
        while matched > 0 and character != pattern[matched]:
            matched = failure[matched - 1]
        if character == pattern[matched]:
            matched += 1
        if matched == len(pattern):
            matches.append(i - len(pattern) + 1)
            matched = failure[matched - 1]
    return matches
