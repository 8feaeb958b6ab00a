"""Photo types come from the file's first bytes: what a phone sends is accepted, anything else is not."""

from __future__ import annotations

import pytest

from field_service.photos import photo_type
from tests.field_service.visit_day import tiny_png


@pytest.mark.parametrize(
    ("head", "media_type", "extension"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg", "jpg"),
        (b"\xff\xd8\xff\xe1\x12\x34Exif\x00\x00", "image/jpeg", "jpg"),
        (tiny_png(), "image/png", "png"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp", "webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image/heic", "heic"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00", "image/heif", "heif"),
    ],
)
def test_phone_photos_are_recognised_by_their_bytes(head, media_type, extension):
    found = photo_type(head[:16])
    assert found is not None
    assert (found.media_type, found.extension) == (media_type, extension)


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"<svg xmlns='http://www.w3.org/2000/svg'>",
        b"<html><script>",
        b"%PDF-1.7\n",
        b"GIF89a\x01\x00\x01\x00",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"\x00\x00\x00\x18ftypisom\x00\x00",
        b"\xff\xd8",
    ],
)
def test_anything_else_is_refused(head):
    assert photo_type(head) is None
