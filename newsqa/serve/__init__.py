"""``newsqa serve``: a local HTTP API and web page over one NewsQA, its models loaded once.

``app.create_app`` builds the FastAPI app, ``batching.Batcher`` gathers concurrent questions
into one generator batch, ``server.serve`` runs it on uvicorn; ``static/`` is the web page.
"""
