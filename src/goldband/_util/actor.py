"""Who is acting: the person or CI job recorded with every registry event and gate."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping


def actor(env: Mapping[str, str] | None = None) -> str:
    """``GOLDBAND_ACTOR`` when set; else the CI identity (GitHub Actions, GitLab CI, or any ``CI``);
    else ``user@host``.

    >>> actor({"GOLDBAND_ACTOR": "release-bot"})
    'release-bot'
    >>> actor({"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "ana", "GITHUB_WORKFLOW": "retrain", "GITHUB_RUN_ID": "42"})
    'github:ana (retrain #42)'
    """
    env = os.environ if env is None else env
    if env.get("GOLDBAND_ACTOR"):
        return env["GOLDBAND_ACTOR"]
    if env.get("GITHUB_ACTIONS") == "true":
        who, workflow, run = (env.get(k, "?") for k in ("GITHUB_ACTOR", "GITHUB_WORKFLOW", "GITHUB_RUN_ID"))
        return f"github:{who} ({workflow} #{run})"
    if env.get("GITLAB_CI") == "true":
        return f"gitlab:{env.get('GITLAB_USER_LOGIN', '?')} (pipeline {env.get('CI_PIPELINE_ID', '?')})"
    if env.get("CI", "").lower() not in ("", "0", "false"):
        return "ci"
    try:
        user = getpass.getuser()
    except Exception:  # no user database entry (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
