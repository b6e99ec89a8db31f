def longest_palindromic_substring(text: str) -> str:
    """Longest palindromic substring by expanding around every centre. The input `text` is a
    string; the result is its longest contiguous substring that reads the same forwards and
    backwards, the leftmost one when several have the greatest length ("" for an empty text).
    Each of the 2n - 1 centres (a character or the gap between two characters) is grown
    outwards while the characters on both sides match."""
    best_start = 0
    best_length = 0
    for center in range(2 * len(text) - 1):
        left = center // 2
        right = left + center % 2
        while left >= 0 and right < len(text) and text[left] == text[right]:
            left -= 1
            right += 1
        length = right - left - 1
        if length > best_length:
            best_start = left + 1
            best_length = length
    return text[best_start : best_start + best_length]
