"""A fake SearXNG instance and the pages it finds, on 127.0.0.1 in a thread, for offline tests.

`GET /search?q=...&format=json` answers in SearXNG's JSON (what litellm's `searxng` provider
reads); every query gets the same `results`. `GET /page/NAME` serves `pages[NAME]` as HTML.
Every request is recorded (path and query string).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.support.loopback import LoopbackServer


class FakeSearch(LoopbackServer):
    name = "fake search server"

    def __init__(self, pages: dict[str, tuple[str, str]] | None = None,
                 snippets: dict[str, str] | None = None) -> None:
        super().__init__()
        self.pages = pages or {}  # name -> (title, body text)
        self.snippets = snippets or {}  # name -> the snippet a search shows for that page
        self.requests: list[tuple[str, dict[str, str]]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/page/{name}"

    def searches(self) -> list[str]:
        return [q.get("q", "") for path, q in self.requests if path == "/search"]

    def routes(self) -> list[Route]:
        return [Route("/search", self._search, methods=["GET", "POST"]),
                                Route("/page/{name}", self._page, methods=["GET"])]

    async def _search(self, request: Request) -> Response:
        self.requests.append(("/search", dict(request.query_params)))
        if request.query_params.get("format") != "json":
            return Response("only format=json here", status_code=403)
        results: list[dict[str, Any]] = [
            {"title": title, "url": self.url(name), "content": self.snippets.get(name, body[:120]),
             "engine": "fake", "publishedDate": "2024-05-01"}
            for name, (title, body) in self.pages.items()]
        return JSONResponse({"query": request.query_params.get("q", ""), "number_of_results": len(results),
                             "results": results})

    async def _page(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.requests.append((f"/page/{name}", {}))
        if name not in self.pages:
            return Response("not found", status_code=404)
        title, body = self.pages[name]
        paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
        return HTMLResponse(f"<html><head><title>{title}</title><style>p {{}}</style></head>"
                            f"<body><h1>{title}</h1>{paragraphs}<script>var x = 1;</script></body></html>")
