"""What a training run produced becomes a candidate version (the pipeline's ``register`` step).

- A *classic* model: everything the training wrote into ``{artifact_dir}`` is the
  artifact (a directory, stored by its sha256), and ``{data_path}``, when written,
  the training-data snapshot.
- An *llm* model: the training (a prompt optimiser, a fine-tune) writes the new
  target's configuration to ``{artifact_dir}/target.yaml``: a goldband.yaml
  target mapping (``model``, ``prompt``, ``system``, ``params`` ...), a ``prompt``
  file relative to ``{artifact_dir}``, and optionally the target's ``name`` (its
  cassettes are found by it; default: the model's ``target``). The version
  stores it in full, like ``goldband registry register --target``.

Each candidate carries ``retrain_request`` in its params, so a pipeline resumed
after a kill finds the version it registered instead of registering another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from goldband._util import yamlio
from goldband.config.base import parse
from goldband.config.project import TargetConfig
from goldband.config.registry import RegistryModelConfig
from goldband.engine.targets import build_target, target_record
from goldband.errors import RegistryError
from goldband.registry.registry import Registry
from goldband.store import registry as db
from goldband.store.registry import RetrainRequest, VersionRow

__all__ = ["TARGET_FILE", "register_candidate"]

TARGET_FILE = "target.yaml"


def register_candidate(registry: Registry, config: RegistryModelConfig, request: RetrainRequest,
                       workspace: Path) -> VersionRow:
    """The version this request registered (found again after a kill), or a new one from its workspace."""
    for version in db.versions(registry.store.conn, request.model):
        if version.params.get("retrain_request") == request.id:
            return version
    params = {k: v for k, v in {"retrain_request": request.id, "trigger": request.trigger,
                                "alert": request.alert_id}.items() if v is not None}
    reason = f"retrain #{request.id}: {request.reason}"
    artifact, data = workspace / "artifact", workspace / "data.csv"
    if config.kind == "llm":
        return registry.register(request.model, kind="llm", target=_target(artifact, config), params=params,
                                 reason=reason)
    label = config.eval.label if config.eval else None  # the training rows share the holdout's label column
    return registry.register(request.model, artifact=artifact, data=data if data.exists() else None,
                             params=params, reason=reason, label=label)


def _target(folder: Path, config: RegistryModelConfig) -> dict[str, Any]:
    """The target configuration the training wrote, validated like goldband.yaml's (file:line errors)."""
    path = folder / TARGET_FILE
    if not path.is_file():
        raise RegistryError(f"the training of an llm model wrote no {TARGET_FILE}", where=str(folder),
                            expected=f"the new target's configuration in {{artifact_dir}}/{TARGET_FILE} "
                                     "(model, prompt, system, params, as under goldband.yaml targets:)",
                            fix="write it from the training command")
    raw, lines = yamlio.load(path)
    if not isinstance(raw, dict):
        raise RegistryError(f"{TARGET_FILE} is not a mapping", where=str(path), expected="keys like model, prompt")
    name = str(raw.pop("name", None) or config.target or "target")
    spec: TargetConfig = parse(TargetConfig, raw, lines)
    return target_record(build_target(name, spec, folder, path))
