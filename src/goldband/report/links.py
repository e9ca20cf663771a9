"""Where a reader of the Markdown summary finds the full report, as CI tells it.

``GOLDBAND_REPORT_URL`` wins: set it to the uploaded artifact's address (e.g. the
``artifact-url`` output of actions/upload-artifact v4, then
``goldband report --format md --stdout``). Otherwise, on GitHub Actions, the link
is the workflow run's page, where the run's artifacts are listed. The environment
is a parameter, so this stays pure and testable:

    >>> link = report_link({"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r",
    ...                     "GITHUB_RUN_ID": "42"})
    >>> link.url
    'https://github.com/o/r/actions/runs/42'
    >>> link.markdown()
    'Full report: `report.html` in the artifacts of [this workflow run](https://github.com/o/r/actions/runs/42).'
    >>> report_url({"GOLDBAND_REPORT_URL": "javascript:alert(1)"}) is None
    True
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

ENV_URL = "GOLDBAND_REPORT_URL"
# Characters left as they are in a link destination; anything else (spaces, parentheses, < > ` | \ ")
# is percent-encoded, so the address can neither end the Markdown link early nor carry markup.
_SAFE = "/:?#@!$&'*+,;=%~-._"


@dataclass(frozen=True)
class ReportLink:
    """A validated http(s) address and what it leads to."""

    url: str
    artifact: bool  # True: the report itself (GOLDBAND_REPORT_URL); False: the workflow run's page

    def markdown(self, name: str = "report.html") -> str:
        """One Markdown line linking the report; ``name`` is the report file's name."""
        if self.artifact:
            return f"Full report: [report artifact]({self.url}) (`{name}`: trial outputs, plots, filters)."
        return f"Full report: `{name}` in the artifacts of [this workflow run]({self.url})."


def report_link(environ: Mapping[str, str]) -> ReportLink | None:
    """The link for ``environ`` (usually ``os.environ``); None when there is none, or it is not http(s)."""
    explicit = environ.get(ENV_URL, "").strip()
    if explicit:
        url = _checked(explicit)
        return ReportLink(url, artifact=True) if url else None
    server, repo, run = (environ.get(k, "").strip() for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY",
                                                              "GITHUB_RUN_ID"))
    if not (server and repo and run.isdigit()):
        return None
    url = _checked(f"{server.rstrip('/')}/{urllib.parse.quote(repo, safe='/')}/actions/runs/{run}")
    return ReportLink(url, artifact=False) if url else None


def report_url(environ: Mapping[str, str]) -> str | None:
    """Just the address of ``report_link``."""
    link = report_link(environ)
    return link.url if link else None


def _checked(url: str) -> str | None:
    """``url`` percent-encoded for a Markdown link destination, if it is an absolute http(s) address."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return urllib.parse.quote(url, safe=_SAFE)
