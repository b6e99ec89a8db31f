def is_palindrome(text: str) -> bool:
    """Decide whether a phrase is a palindrome, ignoring case and every character that is not a
    letter or a digit. The input `text` is a string; the result is True when its letters and
    digits, lower-cased, read the same forwards and backwards, else False. Two pointers move
    inwards from both ends, skipping the ignored characters and comparing the others."""
    left = 0
    right = len(text) - 1
    while left < right:
        if not text[left].isalnum():
            left += 1
        elif not text[right].isalnum():
            right -= 1
        elif text[left].lower() != text[right].lower():
            return False
        else:
            left += 1
            right -= 1
    return True
