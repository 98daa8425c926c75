"""Helpers on real text: answer alignment, faithful rewrites, SQuAD metrics."""

from newsqa.answer import align
from newsqa.faithful import has_finite_verb, unsupported_entities, written_as, written_from
from newsqa.metrics import exact_match, f1_score, normalize_answer


def test_align_finds_exact_case_spacing_and_fuzzy_matches(seed_text):
    assert seed_text[slice(*align("46 members", seed_text))] == "46 members"
    assert seed_text[slice(*align("chitral", seed_text))] == "Chitral"
    span = align("2, 500 - 3, 500 american soldiers", seed_text)
    assert seed_text[span[0] : span[1]] == "2,500-3,500 American soldiers"
    span = align("Spin Boldk", seed_text)
    assert seed_text[span[0] : span[1]] == "Spin Boldak"
    assert align("a football match in Madrid", seed_text) is None


KITE = (
    "A Chinese team took a kite measuring an astonishing 6,000 metres (3.7 miles) to a kite "
    "flying festival - aiming to break the world record by a massive 1,000 metres."
)


def test_a_faithful_shortening_is_written_as_the_article_writes_it(seed_text):
    text = written_from(
        "a chinese team took a kite measuring an astonishing 6, 000 metres ( 3. 7 miles ) to a "
        "kite flying festival.",
        KITE,
    )
    assert text == (
        "A Chinese team took a kite measuring an astonishing 6,000 metres (3.7 miles) to a kite "
        "flying festival."
    )
    source = "Actress Julia Louis-Dreyfus has revealed that HBO's Veep was inspired by Clinton."
    assert (
        written_from(
            "actress julia louis - dreyfus has revealed that hbo ' s veep was inspired by clinton.",
            source,
        )
        == source
    )


def test_an_unfaithful_rewrite_is_refused():
    # a word the sentence does not have ("meters"), however ordinary
    assert written_from("a chinese team took a kite to a festival by 1, 000 meters.", KITE) is None
    # a dropped negation
    assert (
        written_from(
            "the soldiers were able to hold their posts.",
            "The soldiers were not able to hold their posts.",
        )
        is None
    )
    # a negation dropped from what it negates, where the clause stays ...
    assert written_from("one was hurt.", "No one was hurt.") is None
    assert written_from("there were injuries.", "There were no injuries at the scene.") is None
    assert written_from("she left.", "She left without a word.") is None
    # ... but a clause may go whole with its negation
    assert written_from(
        "the coach was announcing the squad.",
        "The coach, who wasted no time, was announcing the squad.",
    ) == ("The coach was announcing the squad.")
    # a word broken up: the apostrophe of "Jr.'s", the comma of "1,000"
    wasps = "He posted the photo dressed as Downey Jr.'s character Iron Man."
    assert written_from("he posted the photo dressed as downey jr. s character.", wasps) is None
    assert written_from("a chinese team took a kite to a festival by 1 000 metres.", KITE) is None
    assert written_from("he posted the photo dressed as downey jr.'s character.", wasps) == (
        "He posted the photo dressed as Downey Jr.'s character."
    )
    # a dropped main verb: what is left is a fragment
    assert written_from("a chinese team, aiming to break the world record.", KITE) is None
    # a dropped object: "took a kite" is not "took"
    assert written_from("a chinese team took.", KITE) is None
    # a list of places cut short: the soldiers did not flee to Tajikistan alone
    fled = (
        "Hundreds of Afghan army soldiers and civil officials have fled to neighbouring "
        "Tajikistan, Iran and Pakistan in recent weeks after Taliban offensives in border towns."
    )
    assert (
        written_from(
            "hundreds of afghan army soldiers and civil officials have fled to "
            "neighbouring tajikistan.",
            fled,
        )
        is None
    )
    assert written_from(
        "hundreds of afghan army soldiers and civil officials have fled to "
        "neighbouring tajikistan, iran and pakistan.",
        fled,
    ) == (
        "Hundreds of Afghan army soldiers and civil officials have fled to neighbouring "
        "Tajikistan, Iran and Pakistan."
    )
    # an unbalanced bracket
    assert (
        written_from("a chinese team took a kite measuring 6, 000 metres ( 3. 7 miles.", KITE)
        is None
    )


def test_verbs_names_and_numbers_are_checked_against_the_article(seed_text):
    assert has_finite_verb("The statement said 46 members crossed the border.")
    assert has_finite_verb(  # the tagger reads "wait" as VB, but it has a subject
        "In scenes more familiar in the most impoverished refugee camps, scores of downtrodden "
        "Syrians wait in line for hours for food."
    )
    assert not has_finite_verb("Watch the video.")
    assert not has_finite_verb("Police to probe the crash.")
    assert not has_finite_verb(
        "Notably, 46 members of the Afghanistan forces, crossing the border."
    )
    assert unsupported_entities("46 soldiers crossed near Chitral on Sunday.", seed_text)[1] == 0
    count, missing = unsupported_entities("47 soldiers crossed near Peshawar.", seed_text)
    assert count == 2 and missing == 2
    assert written_as("afghan soldiers slipped into pakistan", seed_text) == (
        "Afghan soldiers slipped into Pakistan"
    )
    assert written_as("the 2, 500 - 3, 500 american soldiers", seed_text) == (
        "The 2,500-3,500 American soldiers"
    )
    assert written_as("soldiers flee to moscow", seed_text) is None


def test_a_headline_may_inflect_the_leads_words_but_not_misspell_or_move_a_number(seed_text):
    assert written_as("afghan soldiers flee to pakistan", seed_text) is None  # "fleeing"
    assert written_as("afghan soldiers flee to pakistan", seed_text, inflect_from=seed_text) == (
        "Afghan soldiers flee to Pakistan"
    )
    assert written_as("afghan soldeirs flee", seed_text, inflect_from=seed_text) is None
    assert written_as("46 members cross border", seed_text, inflect_from=seed_text) == (
        "46 members cross border"
    )
    # the article has "46 members", never "46 soldiers"
    assert written_as("46 soldiers cross border", seed_text, inflect_from=seed_text) is None
    wire = "The U.S. said debt of 4.5 billion dlrs worries Asia's exporters."
    assert written_as("5 billion dlrs", wire) is None  # a piece of 4.5 is not a number it states
    assert written_as("asia ' s exporters", wire) == "Asia's exporters"


def test_squad_normalisation_and_scores():
    assert normalize_answer("The  U.S. Army!") == "us army"
    assert exact_match("the Taliban", "Taliban") == 1.0
    assert f1_score("46 Afghan soldiers", "46") == 0.5
    assert f1_score("", "") == 1.0 and f1_score("46", "") == 0.0


def _candidate(
    seed_text, quote: str, margin: float, similarity: float, question: str = "who crossed?"
):
    from newsqa.answer import Candidate, Passage
    from newsqa.chunk import Chunk, split_sentences
    from newsqa.generate import Generation

    sentences = split_sentences(seed_text)
    start = seed_text.index(quote)
    number = next(i for i, s in enumerate(sentences) if s.start <= start < s.end)
    sentence = sentences[number]
    chunk = Chunk(sentence.text, sentence.start, sentence.end, number, number)
    span = (start - sentence.start, start - sentence.start + len(quote))
    passage = Passage("seed", None, seed_text, chunk, sentences, similarity)
    features = {"margin": margin, "similarity": similarity}
    return Candidate(question, passage, Generation(quote.lower(), -1.0, span), span, features)


def test_decide_answers_the_candidate_most_likely_right_when_it_reaches_the_bar(seed_text):
    from newsqa.answer import NOT_IN_ARTICLE, decide
    from newsqa.confidence import Calibrator

    vague = _candidate(seed_text, "Hundreds", margin=3.0, similarity=0.33)
    precise = _candidate(seed_text, "46", margin=1.9, similarity=0.47)

    by_margin = Calibrator({"margin": 1.0}, -2.5)
    assert decide([vague, precise], by_margin, 0.5).text == "Hundreds"
    weighed = Calibrator({"margin": 1.0, "similarity": 10.0}, -6.5)
    answer = decide([vague, precise], weighed, 0.5)  # 1.9 + 4.7 beats 3.0 + 3.3
    assert answer.text == "46" and answer.answerable
    assert answer.confidence == round(weighed.probability(precise.features), 4) > 0.5
    evidence = answer.evidence[0]
    assert seed_text[evidence.start : evidence.end] == "46"
    assert "a total of 46 members" in evidence.sentence

    declined = decide([vague, precise], weighed, 0.6)  # P(right) is 0.52
    assert not declined.answerable and declined.text == NOT_IN_ARTICLE
    assert declined.confidence == round(1 - answer.confidence, 4) and declined.evidence == []
    assert not decide([], weighed, 0.0).answerable


def test_amounts_are_read_as_the_numbers_they_state():
    from newsqa.confidence import stated_number

    stated = {
        "46": 46,
        "5,000 to 30,000": 5_000,
        "$1.13bn": 1.13e9,
        "1.5 million": 1.5e6,
        "forty-six": 46,
        "Four thousand": 4_000,
        "two hundred and fifty": 250,
        "a dozen": 12,
        "five officers": 5,
    }
    for text, number in stated.items():
        assert stated_number(text) == number, text
    assert stated_number("the border post") is None


def test_the_measure_a_question_asks_for_is_told_stated_or_missing():
    from newsqa.confidence import measure_asked, states_measure

    asked = {
        "how much did the mansion sell for?": "money",
        "how old is the singer?": "age",
        "how long had they been neighbours?": "duration",
        "how high did the kite fly?": "size",
        "on what date did he die?": "date",
        "in what year was it built?": "year",
        "how many soldiers crossed?": "count",
        "what percentage of pupils eat lunch?": "share",
    }
    for question, kind in asked.items():
        assert measure_asked(question) == kind, question
    assert measure_asked("who leads the taliban?") is None
    assert measure_asked("how much was eaten?") is None  # an amount, not a price
    stated = [
        ("money", "$1.13bn"),
        ("money", "£2.30"),
        ("money", "6 million"),
        ("age", "42"),
        ("age", "two-month-old"),
        ("duration", "26 yrs"),
        ("duration", "since 2003"),
        ("size", "38–41 °C"),
        ("size", "1,451 ft"),
        ("date", "April 7"),
        ("year", "1956"),
        ("count", "46 members"),
        ("count", "twice"),
        ("count", "dozens"),
        ("share", "46%"),
    ]
    for kind, answer in stated:
        assert states_measure(kind, answer), (kind, answer)
    missing = [
        ("money", "46%"),
        ("money", "one year"),
        ("age", "25,000"),
        ("duration", "online"),
        ("size", "Half"),
        ("date", "88"),
        ("year", "August"),
        ("count", "eighth"),
        ("count", "20th"),
        ("count", "a number"),
        ("share", "slightly more than"),
    ]
    for kind, answer in missing:
        assert not states_measure(kind, answer), (kind, answer)


def test_features_read_the_question_against_the_answer_and_its_evidence(seed_text):
    from newsqa.confidence import FEATURES, Evidence, features

    sentence = next(s for s in seed_text.split("\n") if "a total of 46 members" in s)

    def judged(question: str, answer: str) -> dict[str, float]:
        return features(
            Evidence(
                question,
                answer,
                sentence,
                sentence,
                seed_text,
                -1.0,
                -5.0,
                2,
                0.5,
                0.6,
                1,
                0.5,
                0.0,
            )
        )

    count = judged("how many soldiers crossed the border?", "46 members")
    assert set(count) == set(FEATURES)
    assert count["margin"] == 4.0 and count["rank"] == 1.0
    assert count["number_expected_found"] == 1.0 and count["number_expected_missing"] == 0.0
    assert count["measure_expected_found"] == 1.0 and count["measure_expected_missing"] == 0.0
    rank = judged("how many soldiers crossed the border?", "fifth")
    assert rank["measure_expected_missing"] == 1.0
    assert count["question_in_sentence"] == 2 / 3  # "crossed", "border"; not "soldiers"
    who = judged("who crossed the border near Chitral?", "five officers")
    assert who["name_expected_missing"] == 1.0 and who["name_expected_found"] == 0.0
    off_topic = judged("who won the football match?", "Afghanistan")
    assert off_topic["question_in_article"] == 0.0
    echo = judged("which border town did they cross near?", "border town")
    assert echo["answer_in_question"] == 1.0


def test_the_calibrator_is_plain_numbers_per_precision(tmp_path):
    import json

    from newsqa.confidence import Calibrator

    entry = {
        "weights": {"margin": 0.5},
        "intercept": -1.0,
        "min_confidence": 0.3,
        "strict_confidence": 0.7,
    }
    stored = {"calibrators": {"default": entry, "int8": entry | {"intercept": 0.0}}}
    (tmp_path / "calibration.json").write_text(json.dumps(stored))
    fitted = Calibrator.load(tmp_path, "bf16")
    assert (fitted.intercept, fitted.min_confidence, fitted.strict_confidence) == (-1.0, 0.3, 0.7)
    assert fitted.probability({"margin": 2.0}) == 0.5
    assert Calibrator.load(tmp_path, "int8").probability({"margin": 0.0}) == 0.5
    assert Calibrator.load(tmp_path / "nothing", "fp32") == Calibrator.margin_rule()
    assert Calibrator.margin_rule().probability({"margin": 3.75, "similarity": 0.5}) == 0.5
