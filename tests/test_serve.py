"""The HTTP API on a real uvicorn server on loopback, with the real models: every endpoint, the
error codes, the token rule, the size limits, URL refusal, batching under load, the web page."""

from __future__ import annotations

import copy
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from newsqa import NewsQA, ingest
from newsqa.serve.app import Settings, create_app
from newsqa.serve.server import open_socket

QUESTION = "how many members of the Afghanistan forces crossed the border?"
EVIDENCE = "The statement said a total of 46 members of the Afghanistan forces"
TOKEN = "s3cret-token"


@dataclass
class Running:
    """A uvicorn server in a thread of this process, on a free loopback port."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread
    app: object

    def client(self, **options) -> httpx.Client:
        return httpx.Client(base_url=self.url, **{"timeout": 300, **options})

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


def start(qa: NewsQA, settings: Settings) -> Running:
    sock = open_socket("127.0.0.1", 0)
    app = create_app(qa, settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    return Running(f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread, app)


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> NewsQA:
    """One set of loaded models for the module, over a fresh library folder.

    int8, where a question's answer does not depend on what shares its batch (the generator
    batches a question's passages only with each other), so answers under load can be compared
    exactly. bf16 does not have that property yet: measured on LOAD_QUESTIONS, confidences move
    by up to 0.025 with the batch, and "Chitral" (0.505) flips to a refusal at the bar.
    """
    library = tmp_path_factory.mktemp("served") / "library"
    return NewsQA(path=str(library), device="cpu", precision="int8")


@pytest.fixture(scope="module")
def server(engine):
    running = start(engine, Settings())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def guarded(engine):
    """The same engine behind a token, fetching URLs for clients."""
    running = start(engine, Settings(token=TOKEN, allow_urls=True))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api(server):
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def seed_id(api, seed_text) -> str:
    added = api.post("/articles", json={"text": seed_text})
    assert added.status_code == 201, added.text
    return added.json()["id"]


def test_health_docs_and_page(api):
    health = api.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["model"] == "newsqa-mini"
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/ask", "/summarize", "/articles", "/articles/{article_id}"} <= set(paths)
    page = api.get("/")
    assert page.status_code == 200 and '<form id="ask-form">' in page.text
    assert api.get("/static/app.js").status_code == 200


def test_articles_add_list_show_remove(api, seed_id, seed_text, squad_dev):
    again = api.post("/articles", json={"text": seed_text})
    assert again.status_code == 201 and again.json()["status"] == "duplicate"
    assert again.json()["id"] == seed_id
    other = "\n\n".join(p["context"] for p in squad_dev[0]["paragraphs"][:3])
    added = api.post("/articles", json={"text": other, "title": squad_dev[0]["title"]}).json()
    assert added["status"] == "added" and added["title"] == squad_dev[0]["title"]
    listed = api.get("/articles").json()
    assert [a["id"] for a in listed] == [seed_id, added["id"]]
    assert set(listed[0]) == {"id", "title", "source", "characters", "published"}
    shown = api.get(f"/articles/{added['id']}").json()
    assert shown["text"].startswith(squad_dev[0]["paragraphs"][0]["context"][:40])
    assert api.delete(f"/articles/{added['id']}").json() == {"removed": added["id"]}
    assert [a["id"] for a in api.get("/articles").json()] == [seed_id]
    gone = api.delete(f"/articles/{added['id']}")
    assert gone.status_code == 404 and added["id"] in gone.json()["error"]
    assert api.get(f"/articles/{added['id']}").status_code == 404


def test_upload_reads_text_in_any_encoding_and_refuses_binary(api):
    story = "Ölpreise steigen.\n\nThe café in Zürich raised its prices on Monday, the owner said."
    upload = api.post(
        "/articles/upload",
        params={"name": "story.txt", "keep": "false"},
        content=story.encode("latin-1"),
        headers={"content-type": "application/octet-stream"},
    )
    assert upload.status_code == 201, upload.text
    assert "café in Zürich" in api.get(f"/articles/{upload.json()['id']}").json()["text"]
    assert upload.json()["id"] not in [a["id"] for a in api.get("/articles").json()]
    binary = api.post(
        "/articles/upload",
        params={"name": "photo.jpg"},
        content=b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 100,
        headers={"content-type": "application/octet-stream"},
    )
    assert binary.status_code == 400 and "photo.jpg looks like a binary file" in binary.text


def test_ask_answers_as_the_library_does_with_offsets_into_the_article(api, engine, seed_id):
    answer = api.post("/ask", json={"question": QUESTION, "article": seed_id})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found == engine.ask(QUESTION, article=seed_id).to_dict()
    assert found["answerable"] and found["text"] == "46"
    evidence = found["evidence"][0]
    text = api.get(f"/articles/{seed_id}").json()["text"]
    assert text[evidence["start"] : evidence["end"]] == "46"
    assert evidence["sentence"].startswith(EVIDENCE)
    whole_library = api.post("/ask", json={"question": QUESTION}).json()
    assert whole_library["text"] == "46"


def test_many_questions_about_a_sent_text_match_ask_many(api, engine, seed_text, seed_id):
    questions = [QUESTION, "who grants refuge?", "what is the capital of France?"]
    many = api.post("/ask", json={"questions": questions, "text": seed_text})
    assert many.status_code == 200, many.text
    expected = [a.to_dict() for a in engine.ask_many(questions, article=seed_id)]
    assert many.json() == expected
    assert many.json()[2]["answerable"] is False
    assert many.json()[2]["text"] == "The article does not say."


def test_a_kept_article_is_answered_from_the_library_after_its_text_is_sent_unkept(
    server, api, engine, seed_text, seed_id
):
    """Another client sending the same text unkept, beside texts of its own, never changes the
    answers about the kept article: the scratch texts' BM25 weighs words over other articles."""
    other = "The council approved the budget on Monday. It will fund two new schools."
    for text in (seed_text, other):
        sent = api.post("/ask", json={"question": "who fled?", "text": text})
        assert sent.status_code == 200, sent.text
    engines = server.app.state.engines
    assert engines.holding(seed_id) is engines.library
    questions = ["how long have refugees been in Pakistan?", "who grants refuge?"]
    asked = api.post("/ask", json={"questions": questions, "article": seed_id}).json()
    assert asked == [a.to_dict() for a in engine.ask_many(questions, article=seed_id)]


def test_the_confidence_bar_travels_with_the_request(api, seed_id):
    question = {"question": "how many soldiers?", "article": seed_id}
    eager = api.post("/ask", json={**question, "min_confidence": 0.0}).json()
    assert eager["answerable"] is True
    strict = api.post("/ask", json={**question, "min_confidence": 1.0}).json()
    assert strict["answerable"] is False
    both = api.post("/ask", json={**question, "min_confidence": 0.5, "strict": True})
    assert both.status_code == 400 and "not both" in both.json()["error"]


def test_dates_published_in_listings_and_since_until_on_ask(api, engine, seed_id, squad_dev):
    text = "\n\n".join(p["context"] for p in squad_dev[1]["paragraphs"][:3])
    bad = api.post("/articles", json={"text": text, "published": "2020-02-30"})
    assert bad.status_code == 400 and "published must be a date" in bad.json()["error"]
    added = api.post("/articles", json={"text": text, "published": "2020-03-01"})
    assert added.status_code == 201, added.text
    dated = added.json()["id"]
    try:
        assert added.json()["published"] == "2020-03-01"
        listed = {a["id"]: a["published"] for a in api.get("/articles").json()}
        assert listed == {seed_id: None, dated: "2020-03-01"}
        assert api.get(f"/articles/{dated}").json()["published"] == "2020-03-01"
        assert api.get(f"/articles/{seed_id}").json()["published"] is None
        body = {"question": QUESTION, "min_confidence": 0.0}
        in_2020 = {**body, "since": "2020-01-01", "until": "2020-12-31"}
        ranged = api.post("/ask", json=in_2020)
        assert ranged.status_code == 200, ranged.text
        eager = copy.copy(engine)
        eager.min_confidence = 0.0
        question = {k: v for k, v in in_2020.items() if k != "min_confidence"}
        assert ranged.json() == eager.ask(**question).to_dict()
        assert {e["article_id"] for e in ranged.json()["evidence"]} == {dated}
        # concurrent asks with and without a range are never answered as one batch
        with ThreadPoolExecutor(8) as pool:
            found = list(pool.map(lambda b: api.post("/ask", json=b).json(), [in_2020, body] * 4))
        for answer in found[0::2]:
            assert {e["article_id"] for e in answer["evidence"]} == {dated}
        for answer in found[1::2]:
            assert answer["text"] == "46"
        for request, message in (
            ({**body, "since": "2030-01-01"}, "no article was published since 2030-01-01"),
            ({**body, "since": "2021-02-01", "until": "2021-01-01"}, "is after until"),
            ({**body, "until": "last week"}, "until must be a date as YYYY-MM-DD"),
            ({**body, "article": seed_id, "since": "2020-01-01"}, "on no known date"),
        ):
            refused = api.post("/ask", json=request)
            assert refused.status_code == 400 and message in refused.json()["error"], refused.text
        schema = api.get("/openapi.json").json()["components"]["schemas"]
        assert {"since", "until"} <= set(schema["AskRequest"]["properties"])
        assert "published" in schema["AddRequest"]["properties"]
    finally:
        api.delete(f"/articles/{dated}")


def test_summarize_an_article_and_a_text(api, seed_id, seed_text):
    summary = api.post("/summarize", json={"article": seed_id, "words": 30})
    assert summary.status_code == 200, summary.text
    found = summary.json()
    assert set(found) == {"text", "evidence", "notice", "headline", "sentences"}
    assert found["headline"] is None
    assert 0 < len(found["text"].split()) <= 30
    text = api.get(f"/articles/{seed_id}").json()["text"]
    for evidence in found["evidence"]:
        assert text[evidence["start"] : evidence["end"]] == evidence["sentence"]
    from_text = api.post("/summarize", json={"text": seed_text, "words": 30}).json()
    assert from_text == found
    titled = api.post("/summarize", json={"article": seed_id, "words": 30, "headline": True})
    headline = titled.json()["headline"]
    words = set(re.findall(r"\w+", text.lower()))
    assert headline and set(re.findall(r"\w+", headline.lower())) <= words


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"question": ""}, 400, "the question is empty"),
        ({"question": "x" * 1001}, 400, "the limit is 1000"),
        ({"question": "who?", "article": "0123456789ab"}, 404, "no article with id"),
        ({"question": "who?", "questions": ["who?"]}, 400, "give question or questions"),
        ({"questions": ["who?"] * 65}, 413, "the limit is 64"),
        ({"question": "who?", "top_k": 0}, 400, "top_k"),
        ({"question": "who?", "min_confidence": 2}, 400, "min_confidence"),
        ({"question": "who?", "text": "a b", "article": "0123456789ab"}, 400, "one of"),
        ({"question": "who?", "url": "https://example.com/"}, 400, "--allow-urls"),
        ({"question": "who?", "text": "https://example.com/story"}, 400, "--allow-urls"),
        ({"question": "who?", "text": "   "}, 400, "empty|no text"),
    ],
)
def test_ask_errors_are_one_line_json_with_their_status(api, seed_id, body, status, message):
    import re

    response = api.post("/ask", json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"} and "\n" not in response.json()["error"]
    assert re.search(message, response.json()["error"])


def test_other_errors(api, seed_id):
    strategy = api.post("/summarize", json={"article": seed_id, "strategy": "magic"})
    assert strategy.status_code == 400 and "unknown summary strategy" in strategy.json()["error"]
    form = api.post("/ask", content=b'{"question": "who?"}', headers={"content-type": "text/plain"})
    assert form.status_code == 415 and "send JSON" in form.json()["error"]
    rebound = api.get("/health", headers={"host": "attacker.example"})
    assert rebound.status_code == 400 and "loopback only" in rebound.json()["error"]
    assert api.get("/no-such-route").json() == {"error": "Not Found"}
    broken = api.post("/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and set(broken.json()) == {"error"}


def test_bodies_over_the_limit_are_refused_with_413(api):
    huge = "word " * (ingest.MAX_ARTICLE_BYTES // 5 + 300_000)
    response = api.post("/articles", json={"text": huge})
    assert response.status_code == 413 and "larger than" in response.json()["error"]
    just_over = "word " * (ingest.MAX_ARTICLE_BYTES // 5 + 1000)
    response = api.post("/articles", json={"text": just_over})
    assert response.status_code == 413 and "larger than 10 MB" in response.json()["error"]


def test_a_client_never_makes_the_server_read_its_own_files(api, tmp_path):
    secret = tmp_path / "my secret notes.txt"
    secret.write_text("The launch code is 0000. " * 10)
    added = api.post("/articles", json={"text": str(secret), "keep": False})
    assert added.status_code == 201, added.text
    text = api.get(f"/articles/{added.json()['id']}").json()["text"]
    assert text == str(secret) and "launch code" not in text
    folder = api.post(
        "/ask", json={"question": "what is the launch code?", "text": str(secret.parent)}
    )
    assert folder.status_code == 200 and "0000" not in folder.text


def test_token_is_needed_for_every_api_request(guarded):
    with guarded.client() as anonymous:
        assert anonymous.get("/").status_code == 200  # the page itself holds no data
        for response in (
            anonymous.get("/health"),
            anonymous.get("/articles"),
            anonymous.post("/ask", json={"question": "who?"}),
        ):
            assert response.status_code == 401 and "token" in response.json()["error"]
    with guarded.client(headers={"Authorization": "Bearer wrong"}) as wrong:
        assert wrong.get("/articles").status_code == 401
    with guarded.client(headers={"Authorization": f"Bearer {TOKEN}"}) as allowed:
        assert allowed.get("/health").status_code == 200


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/story", "http://localhost/story", "http://10.0.0.7/story", "ftp://x/y"],
)
def test_urls_to_local_or_private_addresses_are_refused(guarded, url):
    with guarded.client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        response = client.post("/ask", json={"question": "who?", "url": url})
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert "local or private address" in message or "not an http(s) URL" in message


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


LOAD_QUESTIONS = [
    QUESTION,
    "how many soldiers?",
    "who grants refuge?",
    "where did the soldiers cross the border?",
    "when did they cross?",
    "how many officers were among them?",
    "what did the military give them?",
    "how many Afghan refugees does Pakistan host?",
    "who took control of Afghanistan?",
    "what is the capital of France?",
    "who won the football match?",
    "which town is near the border?",
    "what province is Chitral in?",
    "who issued the statement?",
    "what happened to the soldiers after they crossed?",
    "how long have refugees been in Pakistan?",
    "what did the Taliban do?",
    "how many soldiers crossed earlier?",
    "who fled?",
    "what was provided to the soldiers?",
    "where will the soldiers be sent?",
    "why did the soldiers flee?",
    "what is the name of the border town?",
    "how much did the meal cost?",
    "what language do they speak?",
]


def test_load_8_clients_25_questions_nothing_lost_and_batched(server, api, engine, seed_id):
    # the library's answers, though a test before has sent the seed text unkept too
    expected = {
        q: a.to_dict()
        for q, a in zip(LOAD_QUESTIONS, engine.ask_many(LOAD_QUESTIONS, article=seed_id))
    }

    def client_run(number: int) -> list[tuple[str, int, dict]]:
        order = LOAD_QUESTIONS[number:] + LOAD_QUESTIONS[:number]
        results = []
        with server.client(timeout=120) as client:
            for question in order:
                response = client.post("/ask", json={"question": question, "article": seed_id})
                results.append((question, response.status_code, response.json()))
        return results

    client_run(0)  # warm-up: whatever the first requests allocate
    batcher = server.app.state.batcher
    batcher.batches.clear()
    before = _rss_mb()
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(client_run, range(8)))
    elapsed = time.monotonic() - started
    growth = _rss_mb() - before
    results = [item for run in runs for item in run]
    assert len(results) == 200
    assert all(status == 200 for _, status, _ in results)
    mismatched = [q for q, _, found in results if found != expected[q]]
    assert not mismatched, [
        (q, found, expected[q]) for q, _, found in results if found != expected[q]
    ][:2]
    assert sum(batcher.batches) == 200 and max(batcher.batches) > 1
    assert growth < 150, f"RSS grew {growth:.0f} MB over 200 requests"
    assert elapsed < 600
    print(f"200 questions in {elapsed:.1f} s, batches {batcher.batches}, RSS +{growth:.0f} MB")


PASTED = (
    "The new bridge over the river Aare opened on Saturday. Mayor Lena Ortiz opened the bridge "
    "in front of a crowd of about 2,000 people. It took four years to build and cost 31 million "
    "francs, the city said."
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_the_page_answers_and_highlights_the_evidence(server, seed_id, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            page.goto(server.url)
            expect(page.locator("#article option")).to_have_count(3, timeout=30_000)
            page.select_option("#article", seed_id)
            page.fill("#question", QUESTION)
            page.press("#question", "Enter")
            expect(page.locator("#result .answer")).to_have_text("46", timeout=120_000)
            mark = page.locator("mark.evidence").first
            expect(mark).to_contain_text(EVIDENCE)
            expect(mark.locator(".span")).to_have_text("46")
            page.click("#result a")
            expect(mark).to_be_in_viewport()
            page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
            assert (tmp_path / "answer.png").stat().st_size > 10_000

            page.fill("#question", "what is the capital of France?")
            page.keyboard.press("Enter")
            expect(page.locator("#result .unanswerable")).to_have_text(
                "The article does not say.", timeout=120_000
            )
            page.click("#summarize")
            expect(page.locator("#result .summary")).not_to_be_empty(timeout=120_000)
            expect(page.locator("mark.evidence").first).to_be_visible()

            page.select_option("#article", "paste")
            page.fill("#text", PASTED)
            page.fill("#question", "who opened the bridge?")
            page.press("#question", "Enter")
            expect(page.locator("#result .answer")).to_contain_text("Lena Ortiz", timeout=120_000)
            expect(page.locator("#article-text")).to_contain_text("The new bridge")
            story = tmp_path / "story.txt"
            story.write_text(PASTED.replace("Lena Ortiz", "Tomas Berg").replace("31", "45"))
            page.set_input_files("#file", str(story))
            page.fill("#question", "how much did the bridge cost?")
            page.press("#question", "Enter")
            expect(page.locator("#result .answer")).to_have_text(
                "45 million francs", timeout=60_000
            )
            expect(page.locator("#article-text")).to_contain_text("Mayor Tomas Berg")
        finally:
            browser.close()


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_docs_render_the_api_with_nothing_fetched_off_this_machine(server):
    from urllib.parse import urlsplit

    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context()
            requested: list[str] = []
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()
            page.goto(f"{server.url}/docs")
            for path in ("/ask", "/summarize", "/articles/{article_id}"):
                operation = page.locator(f'.opblock-summary-path[data-path="{path}"]')
                expect(operation.first).to_be_visible(timeout=30_000)
            expect(page.locator("#swagger-ui")).to_contain_text("newsqa")
            page.wait_for_load_state("networkidle")
        finally:
            browser.close()
    assert any(url.endswith("/docs/static/swagger-ui-bundle.js") for url in requested)
    assert any(url.endswith("/openapi.json") for url in requested)
    remote = [
        url
        for url in requested
        if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname not in LOOPBACK
    ]
    assert not remote, remote


def test_docs_and_schema_need_no_token_but_the_api_still_does(guarded):
    with guarded.client() as anonymous:
        assert anonymous.get("/docs").status_code == 200
        assert anonymous.get("/docs/static/swagger-ui-bundle.js").status_code == 200
        assert "/ask" in anonymous.get("/openapi.json").json()["paths"]
        assert "cdn." not in anonymous.get("/docs").text
        assert anonymous.get("/health").status_code == 401
    with guarded.client(headers={"Authorization": f"Bearer {TOKEN}"}) as allowed:
        assert allowed.get("/redoc").status_code == 404  # ReDoc fetches its logo from a CDN
