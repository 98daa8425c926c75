"""Distilling newsqa-base into newsqa-mini (models/distill.py), on the shipped models."""

import math

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from models import distill, train
from newsqa.models_install import BASE, installed_path
from newsqa.prompts import NO_ANSWER, qa_input

CONTEXT = (
    "The statement said a total of 46 members of the Afghanistan National Army, including five "
    "officers, crossed the border at Arandu in Chitral after their post was overrun."
)
QUESTIONS = [
    ("How many members of the Afghan army crossed the border?", "46"),
    ("Who won the football world cup in 2018?", NO_ANSWER),
]


def examples() -> list[train.data.Example]:
    return [train.data.Example("test", qa_input(q, CONTEXT), a) for q, a in QUESTIONS]


def rows(tokenizer) -> list[tuple[list[int], list[int]]]:
    return train.tokenize(tokenizer, examples())


def test_the_vocabularies_line_up():
    """newsqa-mini's ids in newsqa-base's MPNet-indexed vocabulary, and back."""
    assert distill.teacher_ids([2023, 102, 100, 0]) == [2027, 2, 3, 1]
    logits = torch.full((2, 30527), -5.0)
    logits[0, 2023 + 4] = 9.0  # an ordinary word
    logits[1, 2] = 9.0  # MPNet's separator ends the answer
    assert distill.student_logits(logits).argmax(-1).tolist() == [2023, distill.STUDENT_EOS]


def test_the_loss_mixes_gold_and_teacher_targets():
    """A teacher sure of the gold tokens gives the gold cross-entropy at any alpha; one sure of
    other tokens costs more, in proportion to alpha."""
    tokenizer = AutoTokenizer.from_pretrained(train.SHIPPED)
    model = AutoModelForSeq2SeqLM.from_pretrained(train.SHIPPED, dtype=torch.float32).eval()
    labelled = []
    for ids, labels in rows(tokenizer):
        top_ids = torch.zeros(len(labels), distill.TOP_K, dtype=torch.int32)
        top_ids[:, 0] = torch.tensor(labels)
        top_logprobs = torch.full((len(labels), distill.TOP_K), -30.0, dtype=torch.float16)
        top_logprobs[:, 0] = 0.0
        labelled.append(
            {"input": ids, "labels": labels, "top_ids": top_ids, "top_logprobs": top_logprobs}
        )
    batch = distill.collate(labelled, torch.device("cpu"))
    with torch.no_grad():
        gold = model(**{k: batch[k] for k in ("input_ids", "attention_mask", "labels")}).loss
        for alpha in (0.0, 0.5, 1.0):
            loss = distill.distillation_loss(model, batch, alpha)
            assert math.isclose(loss.item(), gold.item(), rel_tol=1e-4)
        batch["top_ids"][..., 0] = 1996  # "the" everywhere
        half, whole = (distill.distillation_loss(model, batch, a).item() for a in (0.5, 1.0))
    assert whole > half > gold.item() + 1
    assert math.isclose(half, (gold.item() + whole) / 2, rel_tol=1e-4)


@pytest.mark.skipif(
    installed_path(BASE) is None,
    reason="all-mpnet-base-v2 is not installed here (newsqa models install base, 438 MB)",
)
def test_the_teacher_reads_the_gold_answers_back():
    """newsqa-base, teacher-forced on the gold answers: its most likely token at each position
    is the gold one (the count, and the refusal of an off-topic question), as `agreement` says."""
    from newsqa.base_model import load_newsqa_base

    student_tokenizer = AutoTokenizer.from_pretrained(train.SHIPPED)
    teacher_tokenizer, teacher = load_newsqa_base()
    student_rows = rows(student_tokenizer)
    labelled = distill.label_batch(teacher, teacher_tokenizer, examples(), student_rows)
    for (_, labels), row in zip(student_rows, labelled):
        assert row["top_ids"][:, 0].tolist() == labels
        assert row["top_logprobs"].shape == (len(labels), distill.TOP_K)
        assert (row["top_logprobs"][:, 0].float().exp() > 0.5).all()
    summary = distill.agreement(labelled)
    assert summary["test"]["examples"] == 2 and summary["test"]["top1_is_gold"] == 1.0
    assert 0.5 < summary["test"]["top1_probability"] <= 1.0
