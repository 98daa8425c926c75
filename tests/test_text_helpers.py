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
