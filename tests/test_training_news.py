"""News-domain training examples for the reader: answerable, and on-topic negatives."""

import gzip
import json
import random

from models import data
from newsqa.calibration import held_out
from newsqa.prompts import NO_ANSWER

FLOOD = (
    "Heavy rain flooded the town of Riverside on Tuesday. "
    "46 soldiers helped families leave their homes near the river. "
    "The town's mayor said the river had risen faster than ever before. "
    "Volunteers from Riverside handed out food and blankets at the school."
)
FLOOD_AGAIN = (
    "The river at Riverside fell on Thursday after the flood. "
    "Barack Obama visited families whose homes near the river were damaged. "
    "The mayor of Riverside thanked the volunteers for the food and blankets."
)
MARKETS = next(
    text
    for text in (
        "Shares in London rose on Monday as oil prices fell. "
        "British Airways reported a rise in profits for the third quarter. "
        f"Analysts said airline costs would fall by {n} per cent next year."
        for n in range(2, 200)
    )
    if held_out(text)
)  # an article held out by its hash, as one in five are


def _examples(tmp_path, copies: int = 2):
    path = tmp_path / "summ-train.jsonl.gz"
    rows = [
        {"id": str(n), "source": "bbc-news-summary", "article": text, "summary": ""}
        for n, text in enumerate((FLOOD, FLOOD_AGAIN, MARKETS))
    ]
    rows.append({"id": "h", "source": "agnews-headline", "article": FLOOD, "summary": ""})
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    return data.news_examples(path, random.Random(0), copies=copies, cache=None)


def _context(example: data.Example) -> str:
    return example.input.split(" context: ", 1)[1]


def test_questions_are_asked_of_their_sentence_without_it_and_of_a_neighbouring_article(tmp_path):
    train, validation = _examples(tmp_path)
    made = train + validation
    count = [e for e in made if e.input.startswith("question: how many soldiers helped")]
    kinds = {e.source: e for e in count}
    assert set(kinds) == {"news", "news-dropped", "news-neighbour"}
    assert kinds["news"].target == "46" and "46 soldiers" in _context(kinds["news"])
    dropped = _context(kinds["news-dropped"])
    assert kinds["news-dropped"].target == NO_ANSWER
    assert "46" not in dropped and "Riverside" in dropped
    neighbour = _context(kinds["news-neighbour"])
    assert kinds["news-neighbour"].target == NO_ANSWER
    assert neighbour in FLOOD_AGAIN and "46" not in neighbour
    named = [e for e in made if e.source == "news" and e.target == "British Airways"]
    assert named and all("British Airways reported" in _context(e) for e in named)


def test_held_out_articles_give_the_validation_examples_once_each(tmp_path):
    train, validation = _examples(tmp_path, copies=3)
    assert not any(held_out(a) for a in (FLOOD, FLOOD_AGAIN)) and held_out(MARKETS)
    assert [e.target for e in validation if e.source == "news"] == ["British Airways"]
    assert not any("British Airways" in e.input for e in train)
    flood_answers = [e for e in train if e.source == "news" and e.target == "46"]
    assert len(flood_answers) == 3
