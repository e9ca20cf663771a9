"""The closed loop: model registry, evaluation gate, retrain pipeline and rollback."""
