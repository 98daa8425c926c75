"""How the generator's inputs are written: one place, shared by the runtime and by training."""

NO_ANSWER = "unanswerable"
"""The fixed target the bundled model writes when the context does not hold the answer."""


def qa_input(question: str, context: str) -> str:
    """The text a question-answering call feeds the encoder."""
    return f"question: {question.strip()} context: {context.strip()}"


def summary_input(text: str) -> str:
    """The text a summarization call feeds the encoder."""
    return f"summarize: {text.strip()}"


def headline_input(text: str) -> str:
    """The text a one-sentence compression (headline) call feeds the encoder."""
    return f"headline: {text.strip()}"


def qa_request(question: str, context: str) -> tuple[str, int]:
    """The question-answering input and the character offset where its context starts."""
    text = qa_input(question, context)
    return text, len(text) - len(context.strip())


CHAT_QA = (
    "Answer the question with the shortest phrase copied word for word from the article. "
    f'If the article does not say, answer "{NO_ANSWER}".'
)
CHAT_TASKS = {
    "summarize: ": "Shorten this sentence, keeping its facts and its words:",
    "headline: ": "Write a short headline in the words of this text:",
}


def chat_parts(text: str, context_start: int | None) -> tuple[str, str, str | None]:
    """A seq2seq input (``qa_request``, ``summary_input``, ``headline_input``) as what a
    decoder-only model is asked: (instruction, the text it reads, the question or None).
    The text read is the input's context, verbatim, so answers can be quoted from it."""
    if context_start is not None and text.startswith("question: "):
        question = text[len("question: ") : context_start].removesuffix(" context: ").strip()
        return CHAT_QA, text[context_start:], question
    for prefix, instruction in CHAT_TASKS.items():
        if text.startswith(prefix):
            return instruction, text[len(prefix) :], None
    return "", text, None
