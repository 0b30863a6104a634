"""A fake OpenAI-style images endpoint on 127.0.0.1 (a free port) in a thread, for offline tests.

`POST /v1/images/generations` answers `{"created": ..., "data": [{"b64_json": ...}]}` with a real
PNG made here (zlib + struct, no image library); `mode="url"` answers with a URL it serves at
`GET /files/NAME`, `mode="jpeg"` with JPEG bytes, `mode="deny"` with a 401 like a rejected key.
Every request body is recorded, with its Authorization header.
"""

from __future__ import annotations

import base64
import struct
import time
import zlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.loopback import LoopbackServer

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 40, 90)) -> bytes:
    """A valid RGB PNG of one colour: signature, IHDR, one zlib IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width  # filter type 0, then the pixels
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


class FakeImages(LoopbackServer):
    name = "fake images server"

    def __init__(self, mode: str = "b64", image: bytes | None = None) -> None:
        super().__init__()
        self.mode = mode
        self.image = image if image is not None else png()
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def routes(self) -> list[Route]:
        return [Route("/v1/images/generations", self._generate, methods=["POST"]),
                                Route("/files/{name}", self._file, methods=["GET"])]

    async def _generate(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.auth.append(request.headers.get("authorization"))
        if self.mode == "deny":
            error = {"message": "Incorrect API key provided", "type": "invalid_request_error",
                     "code": "invalid_api_key"}
            return JSONResponse({"error": error}, status_code=401)
        if self.mode == "url":
            item = {"url": f"http://127.0.0.1:{self.port}/files/image.png",
                    "revised_prompt": "a revised prompt"}
        else:
            data = JPEG if self.mode == "jpeg" else self.image
            item = {"b64_json": base64.b64encode(data).decode()}
        return JSONResponse({"created": int(time.time()), "data": [item]})

    async def _file(self, request: Request) -> Response:
        return Response(self.image, media_type="image/png")
