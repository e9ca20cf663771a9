"""Where alerts go: the terminal (and Python logging), a JSON Lines file, a webhook.

A sink has a ``name``, a ``min_severity`` and ``send(event)``, which raises
``SinkError`` (or anything) on failure; the engine catches every exception,
records it as that sink's delivery result, logs it, and goes on with the
next sink and the run. ``SINKS`` lists them by ``type``; ``build_sinks`` makes
them from the ``alerts.sinks`` config.

The webhook POSTs JSON ``{"text": ..., "alert": {...}}``: ``text`` is what
Slack (and Mattermost, Discord's Slack-compatible endpoint, Teams workflows)
show; ``alert`` is the whole event for anything else. It retries timeouts,
connection errors and 5xx replies ``retries`` times (not 4xx: those will not
heal), and never shows the URL's path or query in a message (webhook URLs
carry their secret there).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, ClassVar, Protocol

from goldband.alerts.rules import AlertEvent
from goldband.errors import ConfigError, SinkError

__all__ = ["SINKS", "JsonlSink", "LogSink", "Sink", "SinkError", "WebhookSink", "build_sinks"]

LOG = logging.getLogger("goldband.alerts")


class Sink(Protocol):
    name: str
    min_severity: str

    def send(self, event: AlertEvent) -> None: ...


class LogSink:
    """One line per alert on stderr (or ``stream``), and an INFO record on the ``goldband.alerts`` logger."""

    type: ClassVar[str] = "log"

    def __init__(self, *, name: str = "log", min_severity: str = "info", stream: IO[str] | None = None) -> None:
        self.name, self.min_severity, self.stream = name, min_severity, stream

    def send(self, event: AlertEvent) -> None:
        LOG.info("%s", event.text)  # for applications that configure logging; the terminal gets the line below
        stream = self.stream or sys.stderr
        stream.write(f"ALERT {event.text}\n")
        stream.flush()


class JsonlSink:
    """Appends one JSON object per alert to ``path`` (its directory is created)."""

    type: ClassVar[str] = "jsonl"

    def __init__(self, path: str | Path, *, name: str = "jsonl", min_severity: str = "info") -> None:
        self.path, self.name, self.min_severity = Path(path), name, min_severity

    def send(self, event: AlertEvent) -> None:
        line = json.dumps({"text": event.text, **event.to_json()}, ensure_ascii=False, default=str)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:
            raise SinkError(f"cannot append to {self.path}: {exc.strerror or exc}") from None


class WebhookSink:
    """POSTs the alert as JSON to ``url`` (or the URL in the environment variable ``url_env``)."""

    type: ClassVar[str] = "webhook"

    def __init__(self, url: str | None = None, *, url_env: str | None = None, timeout_s: float = 5.0,
                 retries: int = 1, max_attempts: int = 3, name: str = "webhook", min_severity: str = "info",
                 backoff_s: float = 0.2) -> None:
        if (url is None) == (url_env is None):
            raise ConfigError("give exactly one of url or url_env", where="WebhookSink")
        self.url, self.url_env, self.timeout_s, self.retries = url, url_env, timeout_s, retries
        self.max_attempts, self.name, self.min_severity, self.backoff_s = max_attempts, name, min_severity, backoff_s

    def send(self, event: AlertEvent) -> None:
        url = self._url()
        body = json.dumps({"text": event.text, "alert": event.to_json()}, default=str).encode()
        for attempt in range(self.retries + 1):
            retry = self._post(url, body)
            if retry is None:
                return
            if attempt == self.retries or not retry[0]:
                raise SinkError(retry[1] + (f" (after {attempt + 1} attempts)" if attempt else ""))
            time.sleep(self.backoff_s * (attempt + 1))

    def _url(self) -> str:
        if self.url is not None:
            return self.url
        value = os.environ.get(self.url_env or "")
        if not value:
            raise SinkError(f"the environment variable {self.url_env} is not set",
                            fix=f"export {self.url_env}=https://hooks.slack.com/services/...")
        return value

    def _post(self, url: str, body: bytes) -> tuple[bool, str] | None:
        """None when delivered, else (worth retrying, what happened)."""
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "goldband-alerts"})
        shown = _redact(url)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:  # http(s): checked by the config
                reply.read(1024)
            return None
        except urllib.error.HTTPError as exc:
            text = exc.read(200).decode("utf-8", "replace").strip()
            return exc.code >= 500 or exc.code == 429, f"HTTP {exc.code} from {shown}" + (f": {text}" if text else "")
        except TimeoutError:
            return True, f"no reply from {shown} within {self.timeout_s:g} s"
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                return True, f"no reply from {shown} within {self.timeout_s:g} s"
            return True, f"cannot reach {shown}: {reason}"
        except OSError as exc:
            return True, f"cannot reach {shown}: {exc}"


def _redact(url: str) -> str:
    """Scheme, host and port only: webhook paths and queries hold secrets."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") or parts.query else url


SINKS: Mapping[str, type[LogSink] | type[JsonlSink] | type[WebhookSink]] = {
    "log": LogSink, "jsonl": JsonlSink, "webhook": WebhookSink}


def build_sinks(configs: list[Any], *, root: Path | None = None, stream: IO[str] | None = None) -> list[Sink]:
    """Sinks from ``alerts.sinks`` config entries; names default to the type (``webhook-2`` if taken)."""
    sinks: list[Sink] = []
    taken = {cfg.name for cfg in configs if cfg.name}
    for cfg in configs:
        name = cfg.name or next(n for k in range(1, len(configs) + 2)
                                if (n := cfg.type if k == 1 else f"{cfg.type}-{k}") not in taken)
        taken.add(name)
        if cfg.type == "log":
            sinks.append(LogSink(name=name, min_severity=cfg.min_severity, stream=stream))
        elif cfg.type == "jsonl":
            path = Path(cfg.path)
            sinks.append(JsonlSink(path if path.is_absolute() or root is None else root / path, name=name,
                                   min_severity=cfg.min_severity))
        else:
            sinks.append(WebhookSink(cfg.url, url_env=cfg.url_env, timeout_s=cfg.timeout_s, retries=cfg.retries,
                                     max_attempts=cfg.max_attempts, name=name, min_severity=cfg.min_severity))
    return sinks
