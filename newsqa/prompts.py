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
