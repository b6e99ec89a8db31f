"""What a source file holds, told from its bytes before any work: text or binary, records or none."""

from __future__ import annotations

import codecs
from typing import IO

HEAD_BYTES = 1024  # what is read of a file to tell text from binary
_MOST_UNDECODABLE = 0.3  # a head with a larger share of undecodable characters is binary


def is_binary(head: bytes) -> bool:
    """Whether the first bytes of a file are not text: a NUL byte, or mostly undecodable as
    UTF-8 (a few bad bytes in a text file are rejected line by line instead)."""
    if b"\x00" in head:
        return True
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(head, final=False)  # a character cut at the end is no fault
    return bool(text) and text.count("\ufffd") > _MOST_UNDECODABLE * len(text)


def holds_text(stream: IO[bytes], block_bytes: int = 1 << 16) -> bool:
    """Whether a stream holds anything but whitespace (read up to the first block that does)."""
    while block := stream.read(block_bytes):
        if block.strip():
            return True
    return False
