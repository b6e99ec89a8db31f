from bisect import bisect_left


def longest_increasing_subsequence(values: list[int]) -> int:
    """Length of the longest strictly increasing subsequence, by patience sorting. The input
    `values` is a list of integers; the result is the largest number of elements that can be
    picked, in their original order, so that each is larger than the one before. tails[k] is
    the smallest possible last element of an increasing subsequence of length k + 1; each value
    either extends the longest subsequence or, found by binary search, lowers one tail."""
    tails = []
    for value in values:
        position = bisect_left(tails, value)
        if position == len(tails):
            tails.append(value)
        else:
            tails[position] = value
    return len(tails)
