"""Reading a job photo from a multipart upload: streamed, capped at 10 MB, typed by its bytes.

The app refuses bodies over 2 MB before handlers read them (``client_max_size``), but that cap only guards
``request.read()`` and ``request.post()``; a photo is streamed part by part here instead, so a phone's camera
file fits, and a bigger one is cut off with 413 as soon as it passes the limit rather than after it is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from contact_center.errors import DomainError, InvalidInput
from field_service.photos import MAX_PHOTO_BYTES, PhotoType, photo_type

__all__ = ["PayloadTooLarge", "PhotoUpload", "UnsupportedMediaType", "read_photo_upload"]

# Room for the form's text fields and the multipart boundaries around the photo.
_FORM_OVERHEAD = 64 * 1024
_FIELD_BYTES = 4096
_CHUNK = 64 * 1024


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    status = 415


@dataclass(frozen=True)
class PhotoUpload:
    """The form's text fields and the photo with the type its first bytes announce."""

    fields: dict[str, str]
    content: bytes
    type: PhotoType


async def read_photo_upload(request: web.Request, field: str = "photo") -> PhotoUpload:
    """Read a multipart form with one photo in ``field``; raise 400, 413 or 415 with a message that says why."""
    if not request.content_type.startswith("multipart/form-data"):
        raise InvalidInput("send the photo as multipart/form-data", field=field)
    if request.content_length is not None and request.content_length > MAX_PHOTO_BYTES + _FORM_OVERHEAD:
        raise PayloadTooLarge(_too_big())
    fields: dict[str, str] = {}
    content: bytes | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise InvalidInput("nested multipart bodies are not accepted", field=field)
        if part.name == field and part.filename is not None:
            content = await _read_capped(part, MAX_PHOTO_BYTES)
        elif part.name and part.filename is None:
            raw = await _read_capped(part, _FIELD_BYTES, what=f"the field {part.name}")
            fields[part.name] = raw.decode("utf-8", "replace")
        else:
            await part.release()
    if not content:
        raise InvalidInput(f"attach a photo in the {field} field", field=field)
    kind = photo_type(content[:16])
    if kind is None:
        raise UnsupportedMediaType("the file is not a JPEG, PNG, WebP or HEIC photo", field=field)
    return PhotoUpload(fields, content, kind)


async def _read_capped(part: BodyPartReader, limit: int, what: str = "the photo") -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            raise PayloadTooLarge(_too_big() if what == "the photo" else f"{what} is too long")
    return bytes(data)


def _too_big() -> str:
    return f"a photo may be at most {MAX_PHOTO_BYTES // (1024 * 1024)} MB"
