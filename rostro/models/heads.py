"""Classifiers on face embeddings (scikit-learn underneath), one output per label.

Follows scikit-learn's habits: ``__init__`` stores parameters, ``fit`` returns ``self``,
learned state ends in ``_``. ``to_dict``/``from_dict`` keep the weights as plain JSON, so
a saved head never needs pickle to load. Only ``fit`` loads scikit-learn: a loaded head predicts
with numpy alone (so inference, ``rostro video`` for one, starts without it).
"""

from __future__ import annotations

import numpy as np

KINDS = ("logistic", "mlp")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


class EmbeddingClassifier:
    """Logistic regression or a small MLP (the seed's 3 x 60 units) per label on standardised embeddings."""

    def __init__(
        self, kind: str = "logistic", *, C: float = 1.0, hidden: tuple[int, ...] = (60, 60, 60), seed: int = 0
    ):
        self.kind = kind
        self.C = C
        self.hidden = hidden
        self.seed = seed

    def fit(self, X: np.ndarray, Y: np.ndarray) -> EmbeddingClassifier:
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier

        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        X, Y = np.asarray(X, np.float64), np.asarray(Y)
        Y = Y.reshape(len(Y), -1)
        if len(X) != len(Y) or X.ndim != 2:
            raise ValueError(f"EmbeddingClassifier.fit: X is {X.shape}, Y is {Y.shape}; expected N x D and N x L")
        self.mean_ = X.mean(0)
        self.scale_ = X.std(0) + 1e-8
        Z = (X - self.mean_) / self.scale_
        self.layers_: list[list[tuple[np.ndarray, np.ndarray]]] = []
        for j in range(Y.shape[1]):
            y = Y[:, j]
            if len(np.unique(y)) < 2:
                raise ValueError(f"EmbeddingClassifier.fit: label {j} has a single class in the training data")
            if self.kind == "logistic":
                m = LogisticRegression(C=self.C, max_iter=2000).fit(Z, y)
                self.layers_.append([(m.coef_.T, m.intercept_)])
            else:
                m = MLPClassifier(self.hidden, alpha=1e-3, max_iter=400, early_stopping=True, random_state=self.seed)
                m.fit(Z, y)
                self.layers_.append(list(zip(m.coefs_, m.intercepts_, strict=True)))
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "layers_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("EmbeddingClassifier is not fitted yet; call fit first")
        Z = (np.asarray(X, np.float64) - self.mean_) / self.scale_
        out = []
        for layers in self.layers_:
            h = Z
            for i, (w, b) in enumerate(layers):
                h = h @ w + b
                if i < len(layers) - 1:
                    h = np.maximum(h, 0)
            out.append(h[:, 0])
        return np.stack(out, axis=1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """N x L probabilities of the positive class."""
        return _sigmoid(self.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """0/1 for a single-label head (N,), or N x L for several labels, at probability 0.5."""
        out = (self.decision_function(X) >= 0).astype(int)
        return out[:, 0] if out.shape[1] == 1 else out

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "layers": [[(w.tolist(), b.tolist()) for w, b in layers] for layers in self.layers_],
        }

    @classmethod
    def from_dict(cls, data: dict) -> EmbeddingClassifier:
        head = cls(data["kind"])
        head.mean_ = np.asarray(data["mean"])
        head.scale_ = np.asarray(data["scale"])
        head.layers_ = [[(np.asarray(w), np.asarray(b)) for w, b in layers] for layers in data["layers"]]
        return head
