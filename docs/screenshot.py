"""Regenerate docs/serve-page.png: the page at ``/`` answering a question about the seed article.

Serves ``newsqa serve``'s app on a free loopback port, over a temporary library holding the
bundled seed article, asks QUESTION (answer: 46) in Debian's headless chromium (through
playwright, as tests/test_serve.py does), saves a 1100x800 screenshot and stops the server.
Nothing leaves the machine.

    .venv/bin/python docs/screenshot.py [--out docs/serve-page.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

QUESTION = "how many members of the Afghanistan forces crossed the border?"
VIEWPORT = {"width": 1100, "height": 800}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("serve-page.png"))
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs Debian's chromium: apt-get install chromium")

    import uvicorn
    from playwright.sync_api import expect, sync_playwright

    from newsqa import NewsQA
    from newsqa.serve.app import Settings, create_app
    from newsqa.serve.server import open_socket

    with tempfile.TemporaryDirectory() as folder:
        qa = NewsQA(path=str(Path(folder) / "library"), device="cpu")
        seed = qa.add(str(resources.files("newsqa.data").joinpath("article.txt")))
        sock = open_socket("127.0.0.1", 0)
        server = uvicorn.Server(uvicorn.Config(create_app(qa, Settings()), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while not server.started:
                if time.monotonic() > deadline or not thread.is_alive():
                    sys.exit("the server did not start")
                time.sleep(0.05)
            url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, headless=True)
                try:
                    page = browser.new_page(viewport=VIEWPORT, color_scheme="light")
                    page.goto(url)
                    expect(page.locator("#article option")).to_have_count(3, timeout=30_000)
                    page.select_option("#article", seed.id)
                    page.fill("#question", QUESTION)
                    page.press("#question", "Enter")
                    expect(page.locator("#result .answer")).to_have_text("46", timeout=120_000)
                    expect(page.locator("mark.evidence .span").first).to_have_text("46")
                    # the answer and its highlighted sentence in one view
                    page.evaluate(
                        "document.querySelector('#ask-heading').scrollIntoView({block: 'start'})"
                    )
                    page.locator("#question").blur()
                    page.wait_for_timeout(300)
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(args.out))
                finally:
                    browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=60)
    print(f"{args.out}: {args.out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
