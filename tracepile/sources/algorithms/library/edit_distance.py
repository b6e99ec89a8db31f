def edit_distance(source: str, target: str) -> int:
    """Levenshtein edit distance between two strings by dynamic programming. The inputs `source`
    and `target` are strings; the result is the minimum number of single-character insertions,
    deletions and substitutions that turn `source` into `target`. Entry [i][j] of the table is
    the distance between the prefixes source[:i] and target[:j]: equal last characters cost
    nothing more than the diagonal entry, otherwise one edit is added to the cheapest of a
    deletion (above), an insertion (left) or a substitution (diagonal)."""
    rows = len(source)
    columns = len(target)
    distance = [[0] * (columns + 1) for _ in range(rows + 1)]
    for i in range(rows + 1):
        distance[i][0] = i
    for j in range(columns + 1):
        distance[0][j] = j
    for i in range(1, rows + 1):
        for j in range(1, columns + 1):
            if source[i - 1] == target[j - 1]:
                distance[i][j] = distance[i - 1][j - 1]
            else:
                distance[i][j] = 1 + min(distance[i - 1][j], distance[i][j - 1], distance[i - 1][j - 1])
    return distance[rows][columns]
