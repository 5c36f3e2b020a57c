"""Errors a person sees as one line; the CLI turns them into click exceptions."""


class PipelineError(Exception):
    """Bad input or state: the message names the problem and the fix."""


class FatalAPIError(PipelineError):
    """The API refused in a way that dooms every request (bad key, no credits, ...)."""
