"""Identity conversations for small chat models: prompts -> fetch -> validate -> dataset.

Each stage is a module with one click command; `python -m stages --help` lists them.
"""
