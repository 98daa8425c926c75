"""The HTTP API: FastAPI routes that are thin adapters over NewsQA, and the web page at ``/``.

Bodies are the library's own shapes: an answer is ``Answer.to_dict()``, a summary
``Summary.to_dict()``, an article what ``newsqa list/show --json`` print. Errors are
``{"error": "one line"}``: 400 a user error, 401 a missing token, 404 an unknown article,
413 too large, 415 not JSON, 500 internal.
"""

from __future__ import annotations

import hmac
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from newsqa import __version__, dates, ingest
from newsqa.answer import check_question
from newsqa.core import NewsQA
from newsqa.errors import InputError, NotFoundError, UserError
from newsqa.generate import Request as GenerationRequest
from newsqa.prompts import qa_request
from newsqa.resources import package_folder
from newsqa.results import Answer, Article, Summary
from newsqa.serve import urls
from newsqa.serve.batching import Batcher
from newsqa.serve.engines import Engines

MAX_QUESTIONS = 64
"""The most questions one request may ask."""
MAX_BODY_BYTES = ingest.MAX_ARTICLE_BYTES + 1024 * 1024
"""An article at the size limit, with room for JSON escapes and the other fields."""
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
DOCS_STATIC = "/docs/static"
"""Where Swagger UI's script and style are served (fastapi-offline ships them)."""
PUBLIC_PATHS = {"/", "/docs", "/openapi.json"}
"""What a server with a token serves without it: pages and the schema, which hold no data."""
_URL = re.compile(r"^\s*https?://\S+\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    """How the server behaves: see ``newsqa serve --help``."""

    token: str | None = None
    allow_urls: bool = False
    batch_window: float = 0.005
    loopback: bool = True  # bound to a loopback address: other Host headers are refused


class Source(BaseModel):
    """The article a request reads: an added article's id, a text, or (``--allow-urls``) a URL;
    none of them: the whole library."""

    article: str | None = Field(None, description="An added article's id.")
    text: str | None = Field(None, description="Article text or HTML, read for this request.")
    url: str | None = Field(None, description="A public http(s) page (needs --allow-urls).")
    title: str | None = Field(None, description="The title of text or url.")


class AskRequest(Source):
    question: str | None = Field(None, description="One question; or give questions.")
    questions: list[str] | None = Field(None, description="Many questions: a list of answers.")
    top_k: int = Field(4, ge=1, le=50, description="Chunks read per question.")
    min_confidence: float | None = Field(None, ge=0.0, le=1.0)
    strict: bool = False
    since: str | None = Field(
        None,
        description="Only articles published on or after this date (YYYY-MM-DD, e.g. "
        "2021-07-01); undated articles are left out.",
    )
    until: str | None = Field(
        None,
        description="Only articles published on or before this date (YYYY-MM-DD); undated "
        "articles are left out.",
    )
    story: int | None = Field(
        None,
        description="A story's id (GET /stories): ask each of its articles; the answer's "
        "sources say what each says and whether it agrees.",
    )


class SummarizeRequest(Source):
    words: int | None = Field(
        None, ge=5, le=1000, description="The longest summary, in words (80; a story's 250)."
    )
    story: int | None = Field(
        None, description="A story's id (GET /stories): one summary of all its articles."
    )
    strategy: str = Field("compress", description="compress or map-reduce.")
    headline: bool = Field(False, description="Also write a headline from the lead.")


class AddRequest(BaseModel):
    text: str | None = Field(None, description="Article text or HTML.")
    url: str | None = Field(None, description="A public http(s) page (needs --allow-urls).")
    title: str | None = None
    published: str | None = Field(
        None,
        description="The publication date, YYYY-MM-DD (e.g. 2021-07-26); else the page's "
        "metadata or the text's dateline gives it, if either states a full date.",
    )
    keep: bool = Field(True, description="false: hold it in memory only, not in the library.")


def create_app(qa: NewsQA, settings: Settings | None = None) -> FastAPI:
    """The app over ``qa``; every model call runs on one batching worker thread."""
    settings = settings or Settings()
    engines = Engines(qa)
    batcher = Batcher(window=settings.batch_window)
    # Loaded and first run on the worker thread: with torch on CPU, a model first run on one
    # thread runs ~1.5x slower on any other (measured: 0.19 s vs 0.12 s a question).
    batcher.submit(lambda: _warm_up(qa)).result()

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        batcher.close()  # queued calls finish before the process ends

    app = FastAPIOffline(  # /docs with Swagger UI's scripts served from here, not a CDN
        title="newsqa",
        version=__version__,
        description="Ask questions about news articles and summarize them, on this machine.",
        lifespan=lifespan,
        static_url=DOCS_STATIC,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
        redoc_url=None,  # ReDoc fetches its logo from its CDN all the same
    )
    app.state.batcher = batcher
    app.state.engines = engines
    _add_guards(app, settings)
    _add_error_handlers(app)
    static = package_folder("newsqa.serve") / "static"  # a real folder, from a zip too
    app.mount("/static", StaticFiles(directory=static), name="static")

    async def source_engine(source: Source) -> tuple[NewsQA, str | None]:
        """The engine and article id a request reads (a text is added to the scratch texts)."""
        given = [name for name in ("article", "text", "url") if getattr(source, name)]
        if len(given) > 1:
            raise InputError(f"give one of article, text or url, not {' and '.join(given)}")
        if source.text is not None or source.url is not None:
            article, _ = await add_source(source.text, source.url, source.title, keep=False)
            return engines.scratch, article.id
        if source.article is not None:
            engines.get(source.article)  # 404 for an unknown id, even in an empty library
        return engines.holding(source.article), source.article

    async def add_source(
        text: str | None,
        url: str | None,
        title: str | None,
        keep: bool,
        published: str | None = None,
    ) -> tuple[Article, bool]:
        if published is not None:
            published = dates.parse_date(published, "published")  # 400 before any fetch
        if text is not None and _URL.match(text):
            text, url = None, text.strip()
        if url is not None:
            if not settings.allow_urls:
                raise InputError("this server does not fetch URLs (start it with --allow-urls)")
            url = url.strip()
            await run_in_threadpool(urls.check_public, url)  # DNS off the event loop
            text = ingest.decode(await run_in_threadpool(ingest.fetch_url, url), url)
        if text is None:
            raise InputError("give the article's text")
        if len(text.encode("utf-8", "surrogatepass")) > ingest.MAX_ARTICLE_BYTES:
            raise TooLarge(f"the article is larger than {ingest.MAX_ARTICLE_BYTES >> 20} MB")
        return await batcher.run(lambda: engines.add(text, title, keep, published))

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(static / "index.html")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Whether the server is up, and what it runs."""
        return {
            "status": "ok",
            "version": __version__,
            "model": qa.generator.name,
            "device": qa.device,
            "precision": qa.generator.precision,
            "articles": len(qa.library),
        }

    @app.post("/ask", response_model=Answer | list[Answer])
    async def ask(request: AskRequest) -> Answer | list[Answer]:
        """Answer ``question`` (an answer) or ``questions`` (a list of answers)."""
        if (request.question is None) == (request.questions is None):
            raise InputError("give question or questions")
        questions = [request.question] if request.question is not None else request.questions
        if not questions:
            raise InputError("questions is empty")
        if len(questions) > MAX_QUESTIONS:
            raise TooLarge(f"{len(questions)} questions; the limit is {MAX_QUESTIONS} a request")
        cleaned = [check_question(q) for q in questions]
        since, until = dates.check_range(request.since, request.until)
        if request.story is not None:
            if request.article or request.text or request.url:
                raise InputError("give a story or an article, not both")
            engine = engines.at_bar(qa, request.min_confidence, request.strict)
            answers = await batcher.run(
                lambda: engine.ask_many(
                    cleaned, top_k=request.top_k, since=since, until=until, story=request.story
                )
            )
            return answers[0] if request.question is not None else answers
        engine, article = await source_engine(request)
        engine = engines.at_bar(engine, request.min_confidence, request.strict)
        answers = await batcher.ask(engine, cleaned, article, request.top_k, since, until)
        return answers[0] if request.question is not None else answers

    @app.post("/summarize", response_model=Summary)
    async def summarize(request: SummarizeRequest) -> Summary:
        """Summarize an article (the only one added when none is named), or a story."""
        if request.story is not None:
            if request.article or request.text or request.url:
                raise InputError("give a story or an article, not both")
            return await batcher.run(
                lambda: qa.summarize_story(request.story, max_words=request.words)
            )
        engine, article = await source_engine(request)
        return await batcher.run(
            lambda: engine.summarize(
                article,
                max_words=request.words or 80,
                strategy=request.strategy,
                headline=request.headline,
            )
        )

    @app.get("/articles")
    async def list_articles() -> list[dict[str, Any]]:
        """The library's articles, oldest first, each with its publication date
        (``published``: YYYY-MM-DD or null), as ``newsqa list --json``."""
        return [_listing(article) for article in qa.articles()]

    @app.get("/stories")
    async def list_stories(
        since: Annotated[str | None, Query(description="YYYY-MM-DD: published from.")] = None,
        until: Annotated[str | None, Query(description="YYYY-MM-DD: published until.")] = None,
    ) -> list[dict[str, Any]]:
        """The library's articles grouped by the event they report, as ``newsqa stories
        --json``; POST /summarize with ``story`` summarizes one."""
        start, end = dates.check_range(since, until)
        found = await batcher.run(lambda: qa.stories(start, end))
        return [story.to_dict() for story in found]

    @app.post("/articles", status_code=201)
    async def add_article(request: AddRequest) -> dict[str, Any]:
        """Add a text or (``--allow-urls``) a page; ``keep: false`` holds it in memory only.
        ``published`` (YYYY-MM-DD) dates it; an article already added keeps its date."""
        if (request.text is None) == (request.url is None):
            raise InputError("give text or url")
        article, fresh = await add_source(
            request.text, request.url, request.title, request.keep, request.published
        )
        return {**_listing(article), "status": "added" if fresh else "duplicate"}

    @app.post("/articles/upload", status_code=201)
    async def upload_article(
        data: Annotated[bytes, Body(media_type="application/octet-stream")],
        name: Annotated[str, Query(description="The file's name, for messages.")] = "upload",
        title: str | None = None,
        keep: bool = True,
    ) -> dict[str, Any]:
        """Add a file's bytes (text or HTML, any encoding); binary files are refused."""
        if len(data) > ingest.MAX_ARTICLE_BYTES:
            raise TooLarge(f"{name} is larger than {ingest.MAX_ARTICLE_BYTES >> 20} MB")
        text = ingest.decode(data, name)
        article, fresh = await add_source(text, None, title, keep)
        return {**_listing(article), "status": "added" if fresh else "duplicate"}

    @app.get("/articles/{article_id}")
    async def show_article(article_id: str) -> dict[str, Any]:
        """One article with its publication date and its cleaned text, which every offset
        refers to."""
        article = engines.get(article_id)
        return {
            "id": article.id,
            "title": article.title,
            "source": article.source,
            "published": article.published,
            "text": article.text,
        }

    @app.delete("/articles/{article_id}")
    async def remove_article(article_id: str) -> dict[str, str]:
        """Remove an article from the library."""
        await batcher.run(lambda: qa.remove(article_id))
        return {"removed": article_id}

    return app


class TooLarge(UserError):
    """A request over a size limit (413)."""


def _warm_up(qa: NewsQA) -> None:
    """Load both models and run each once, so that the first request does not wait for it."""
    qa.embedder.encode(["load the models now"])
    text, start = qa_request("what is loaded?", "The models are loaded.")
    qa.generator.generate([GenerationRequest(text, start)], max_new_tokens=2, num_beams=1)


def _listing(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "source": article.source,
        "characters": len(article.text),
        "published": article.published,
    }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UserError)
    async def user_error(_: Request, error: UserError) -> JSONResponse:
        status = 404 if isinstance(error, NotFoundError) else 400
        if isinstance(error, TooLarge) or (
            isinstance(error, InputError) and "larger than" in str(error)
        ):
            status = 413
        return _error(status, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "body"
        return _error(400, f"{where}: {problem.get('msg', 'invalid')}")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def internal(_: Request, error: Exception) -> JSONResponse:
        return _error(500, f"internal error: {type(error).__name__}: {error}")


_SIMPLE_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
"""What a web page on another site may send here without the browser asking first (CORS)."""


def _add_guards(app: FastAPI, settings: Settings) -> None:
    """Host check (against DNS rebinding), token, body size and content type, before routes."""
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if settings.loopback and host not in LOOPBACK_HOSTS:
            return _error(400, f"unexpected Host {host!r}: this server answers on loopback only")
        path = request.url.path
        public = path in PUBLIC_PATHS or path.startswith(("/static/", "/docs/"))
        if settings.token and not public:
            given = request.headers.get("authorization", "")
            expected = f"Bearer {settings.token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return _error(401, "this server needs its token: Authorization: Bearer TOKEN")
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind in _SIMPLE_TYPES:
                return _error(415, f"send JSON (Content-Type: application/json), not {kind}")
        return await call_next(request)


class _BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413, as declared or as it arrives."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").strip()
        message = f"the request is larger than {self.limit >> 20} MB"
        if declared.isdigit() and int(declared) > self.limit:
            return await _error(413, message)(scope, receive, send)
        size = 0

        async def counted():
            nonlocal size
            event = await receive()
            size += len(event.get("body", b""))
            if size > self.limit:
                raise HTTPException(413, message)  # FastAPI passes it on to the handler
            return event

        await self.app(scope, counted, send)
