"""Which uploads count as job photos: the image type read from the file's first bytes, never the client's word.

Pure: the web layer streams the upload and asks ``photo_type`` about its head and ``MAX_PHOTO_BYTES`` about its size.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_PHOTO_BYTES", "PhotoType", "photo_type"]

#: A phone camera's JPEG or HEIC is 2-6 MB; 10 MB leaves room and keeps a stored photo bounded.
MAX_PHOTO_BYTES = 10 * 1024 * 1024

# ISO/IEC 23008-12: HEIF files open with an ``ftyp`` box whose major brand names the codec.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})


@dataclass(frozen=True)
class PhotoType:
    """An accepted image type: what to serve it as and the file extension to name it with."""

    media_type: str
    extension: str


JPEG = PhotoType("image/jpeg", "jpg")
PNG = PhotoType("image/png", "png")
WEBP = PhotoType("image/webp", "webp")
HEIC = PhotoType("image/heic", "heic")
HEIF = PhotoType("image/heif", "heif")


def photo_type(head: bytes) -> PhotoType | None:
    """Return the image type that the first bytes of a file (16 are enough) announce, or None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return HEIC
        if brand in _HEIF_BRANDS:
            return HEIF
    return None
