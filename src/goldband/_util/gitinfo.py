"""The git commit, branch and dirtiness of the project a run was made in.

A run records them so a result can be traced to the code that produced it.
CI checkouts are often a detached HEAD, so the branch falls back to the CI's
own variable (GitHub Actions, GitLab CI, Buildkite, Jenkins). No git, or not
a repository: all None.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BUILDKITE_BRANCH", "BRANCH_NAME")


@dataclass(frozen=True)
class GitInfo:
    sha: str | None = None
    branch: str | None = None
    dirty: bool | None = None


def git_info(root: Path) -> GitInfo:
    sha = _git(root, "rev-parse", "HEAD")
    if sha is None:
        return GitInfo(branch=_ci_branch())
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    if branch in (None, "HEAD"):
        branch = _ci_branch()
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return GitInfo(sha, branch, None if status is None else bool(status))


def _ci_branch() -> str | None:
    return next((value for name in BRANCH_VARIABLES if (value := os.environ.get(name))), None)


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def file_dates(root: Path, path: Path) -> tuple[str | None, str | None]:
    """The dates (``YYYY-MM-DD``) of the first and the latest commit that touched ``path``; None outside git."""
    log = _git(root, "log", "--follow", "--format=%as", "--", str(path))
    dates = log.splitlines() if log else []
    return (dates[-1], dates[0]) if dates else (None, None)
