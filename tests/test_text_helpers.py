"""Pure helpers on real text: answer alignment, recasing, SQuAD metrics."""

from newsqa.answer import align
from newsqa.metrics import exact_match, f1_score, normalize_answer
from newsqa.summaries import recase


def test_align_finds_exact_case_spacing_and_fuzzy_matches(seed_text):
    assert seed_text[slice(*align("46 members", seed_text))] == "46 members"
    assert seed_text[slice(*align("chitral", seed_text))] == "Chitral"
    span = align("2, 500 - 3, 500 american soldiers", seed_text)
    assert seed_text[span[0] : span[1]] == "2,500-3,500 American soldiers"
    span = align("Spin Boldk", seed_text)
    assert seed_text[span[0] : span[1]] == "Spin Boldak"
    assert align("a football match in Madrid", seed_text) is None


def test_recase_restores_the_articles_casing_and_spacing(seed_text):
    text = recase(
        "the ispr said 46 members of the afghanistan forces crossed near chitral .", seed_text
    )
    assert text == "The ISPR said 46 members of the Afghanistan forces crossed near Chitral."
    text = recase("afghanistan ' s military is overhauling its war strategy .", seed_text)
    assert text == "Afghanistan's military is overhauling its war strategy."


def test_squad_normalisation_and_scores():
    assert normalize_answer("The  U.S. Army!") == "us army"
    assert exact_match("the Taliban", "Taliban") == 1.0
    assert f1_score("46 Afghan soldiers", "46") == 0.5
    assert f1_score("", "") == 1.0 and f1_score("46", "") == 0.0


def _candidate(seed_text, quote: str, margin: float, similarity: float):
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
    return Candidate(margin, passage, Generation(quote.lower(), -1.0, span), span)


def test_decide_weighs_retrieval_similarity_into_the_choice_and_the_threshold(seed_text):
    from newsqa.answer import NOT_IN_ARTICLE, decide

    vague = _candidate(seed_text, "Hundreds", margin=3.0, similarity=0.33)
    precise = _candidate(seed_text, "46", margin=1.9, similarity=0.47)

    by_margin = decide([vague, precise], margin_threshold=2.5)
    assert by_margin.text == "Hundreds" and by_margin.answerable
    weighed = decide([vague, precise], margin_threshold=2.5, similarity_weight=10.0)
    assert weighed.text == "46"  # 1.9 + 4.7 beats 3.0 + 3.3
    evidence = weighed.evidence[0]
    assert seed_text[evidence.start : evidence.end] == "46"
    assert "a total of 46 members" in evidence.sentence

    # the threshold applies to the same support: 6.6 clears 6.5, not 7.0
    assert decide([vague, precise], 6.5, 10.0).confidence > 0.5
    declined = decide([vague, precise], 7.0, 10.0)
    assert not declined.answerable and declined.text == NOT_IN_ARTICLE
    assert declined.confidence > 0.5 and declined.evidence == []
    assert not decide([], 0.0).answerable
