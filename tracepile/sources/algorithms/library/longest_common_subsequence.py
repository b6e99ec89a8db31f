def longest_common_subsequence(first: str, second: str) -> str:
    """Longest common subsequence of two strings by dynamic programming. The inputs `first` and
    `second` are strings; the result is a longest string that is a subsequence of both (its
    characters appear in both strings in the same order, not necessarily adjacent). Entry
    [i][j] of the table is the LCS length of the prefixes first[:i] and second[:j]; a walk back
    from the bottom-right corner recovers one longest subsequence, preferring to drop a
    character of `first` when both choices keep the length."""
    rows = len(first)
    columns = len(second)
    length = [[0] * (columns + 1) for _ in range(rows + 1)]
    for i in range(1, rows + 1):
        for j in range(1, columns + 1):
            if first[i - 1] == second[j - 1]:
                length[i][j] = length[i - 1][j - 1] + 1
            else:
                length[i][j] = max(length[i - 1][j], length[i][j - 1])
    letters = []
    i, j = rows, columns
    while i > 0 and j > 0:
        if first[i - 1] == second[j - 1]:
            letters.append(first[i - 1])
            i -= 1
            j -= 1
        elif length[i - 1][j] >= length[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return "".join(reversed(letters))
