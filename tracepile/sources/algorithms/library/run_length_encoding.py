def run_length_encoding(text: str) -> list[list[str | int]]:
    """Run-length encoding of a string. The input `text` is a string; the result lists its runs
    of equal consecutive characters from left to right, each as a [character, count] pair, so
    "aaab" becomes [["a", 3], ["b", 1]]. Each character either lengthens the current run or
    starts a new one."""
    runs = []
    for character in text:
        if runs and runs[-1][0] == character:
            runs[-1][1] += 1
        else:
            runs.append([character, 1])
    return runs
