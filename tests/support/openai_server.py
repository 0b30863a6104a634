"""A fake OpenAI-compatible chat server for offline tests, on 127.0.0.1 in a thread.

It emulates one JSON-constraint dialect (or none): a request in *its* form gets a JSON reply that
validates against the schema it carried; any other request gets free text, as an unconstrained
model would. With `rejects=True`, a `response_format` it does not know is a 400, as strict servers
do. Every request body is recorded; `"stream": true` is answered with server-sent events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from podium.llm.structured import example_instance
from tests.support.loopback import LoopbackServer

FREE_TEXT = "Hello! How can I help you today?"
# (request body, schema or None when unconstrained) -> reply text, or None for the default
Replier = Callable[[dict[str, Any], dict[str, Any] | None], str | None]


def schema_in(body: dict[str, Any], dialect: str | None) -> dict[str, Any] | None:
    """The schema `body` asks for in `dialect`'s form, or None when it uses another form (or none)."""
    rf = body.get("response_format") if isinstance(body.get("response_format"), dict) else {}
    if dialect == "json_schema" and rf.get("type") == "json_schema":
        return (rf.get("json_schema") or {}).get("schema")
    if dialect == "json_object" and rf.get("type") == "json_object" and isinstance(rf.get("schema"), dict):
        return rf["schema"]
    if dialect == "guided_json" and isinstance(body.get("guided_json"), dict):
        return body["guided_json"]
    if dialect == "format" and isinstance(body.get("format"), dict):
        return body["format"]
    return None


class FakeOpenAIServer(LoopbackServer):
    name = "fake OpenAI server"

    def __init__(self, dialect: str | None = None, *, reply: Replier | None = None, rejects: bool = False,
                 model: str = "smollm2") -> None:
        super().__init__()
        self.dialect = dialect
        self.reply = reply
        self.rejects = rejects
        self.model = model
        self.requests: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "messages" in r]

    # ------------------------------------------------------------------ lifecycle

    def routes(self) -> list[Route]:
        return [Route("/v1/chat/completions", self._chat, methods=["POST"]),
                                Route("/v1/models", self._models, methods=["GET"])]

    # ------------------------------------------------------------------ endpoints

    async def _models(self, _: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        rf = body.get("response_format")
        if self.rejects and isinstance(rf, dict) and schema_in(body, self.dialect) is None:
            return JSONResponse({"error": {"message": f"unsupported response_format {rf.get('type')!r}",
                                           "type": "invalid_request_error"}}, status_code=400)
        schema = schema_in(body, self.dialect)
        text = self.reply(body, schema) if self.reply is not None else None
        if text is None:
            text = json.dumps(example_instance(schema)) if schema is not None else FREE_TEXT
        usage = {"prompt_tokens": 10, "completion_tokens": max(1, len(text) // 4)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if body.get("stream"):
            with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(self._sse(text, usage if with_usage else None),
                                     media_type="text/event-stream")
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        return JSONResponse({"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                             "model": self.model, "choices": [choice], "usage": usage})

    def _sse(self, text: str, usage: dict[str, int] | None) -> Iterator[str]:
        def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": self.model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                     **extra}
            return f"data: {json.dumps(chunk)}\n\n"

        yield event({"role": "assistant", "content": ""})
        for i in range(0, len(text), 8):
            yield event({"content": text[i:i + 8]})
        yield event({}, "stop")
        if usage is not None:
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": self.model, "choices": [], "usage": usage}
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"
