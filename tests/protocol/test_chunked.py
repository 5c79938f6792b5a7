from __future__ import annotations

import pytest

from outcrop.protocol.chunked import IncompleteBody, decode_aws_chunked


def test_signed_and_unsigned_chunks_with_trailers() -> None:
    signed = (
        b"5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=def\r\n world\r\n0;chunk-signature=000\r\n\r\n"
    )
    assert decode_aws_chunked(signed) == (b"hello world", {})
    unsigned = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n"
    assert decode_aws_chunked(unsigned) == (b"abc", {"x-amz-checksum-crc32": "NSRBwg=="})


def test_truncated_body_is_an_error() -> None:
    with pytest.raises(IncompleteBody):
        decode_aws_chunked(b"10\r\nshort")
