"""Networks and the registry that builds them by name."""

from rostro.models import cnn, face_trunk  # noqa: F401  (register the networks)
from rostro.models.cnn import TrunkHeadNet
from rostro.models.registry import create_model, list_models, load_weights, model_spec, register_model

__all__ = ["TrunkHeadNet", "create_model", "list_models", "load_weights", "model_spec", "register_model"]
