def sift_down(heap: list[int], root: int, end: int) -> None:
    """Move heap[root] down until heap[root:end] satisfies the max-heap property."""
    while True:
        largest = root
        left = 2 * root + 1
        right = left + 1
        if left < end and heap[left] > heap[largest]:
            largest = left
        if right < end and heap[right] > heap[largest]:
            largest = right
        if largest == root:
            return
        heap[root], heap[largest] = heap[largest], heap[root]
        root = largest


def heap_sort(values: list[int]) -> list[int]:
    """Sort a list of integers in ascending order with heapsort. The input `values` is a list of
    integers; the result is a new list with the same integers in non-decreasing order. The list
    is first arranged into a max-heap (each parent at index i is at least its children at 2i+1
    and 2i+2); then the maximum at the root is repeatedly swapped to the end of the heap, the
    heap shrinks by one, and the new root is sifted down."""
    heap = list(values)
    n = len(heap)
    for start in range(n // 2 - 1, -1, -1):
        sift_down(heap, start, n)
    for end in range(n - 1, 0, -1):
        heap[0], heap[end] = heap[end], heap[0]
        sift_down(heap, 0, end)
    return heap
