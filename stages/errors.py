"""Errors a person sees as one line; the CLI turns them into click exceptions."""


class PipelineError(Exception):
    """Bad input or state: the message names the problem and the fix."""


class FatalAPIError(PipelineError):
    """The API refused in a way that dooms every request (bad key, no credits, ...).

    `status` is the HTTP status (or the error code inside a 200), `detail` the API's own words."""

    def __init__(self, message: str, status: int | None = None, detail: str = ""):
        super().__init__(message)
        self.status = status
        self.detail = detail
