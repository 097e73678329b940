"""Kernel matrices computed with BLAS for libsvm's precomputed-kernel models (SVC, SVR)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics.pairwise import pairwise_kernels


class PrecomputedKernel:
    """Mixin: the kernel between new rows and the training rows (``kernel``, ``gamma``,
    ``degree``, ``coef0`` as libsvm's), with sklearn's ``gamma="scale"``."""

    def _fit_kernel(self, X: np.ndarray) -> np.ndarray:
        """Remember the training rows and resolve gamma; the training kernel matrix."""
        self.X_fit_ = np.asarray(X, dtype=np.float64)
        var = self.X_fit_.var()
        scale = 1.0 / (self.X_fit_.shape[1] * var) if var > 0 else 1.0
        self.gamma_ = scale if self.gamma == "scale" else float(self.gamma)
        return self._kernel(self.X_fit_)

    def _kernel(self, X: np.ndarray) -> np.ndarray:
        args = {
            "linear": {},
            "rbf": {"gamma": self.gamma_},
            "poly": {"gamma": self.gamma_, "degree": self.degree, "coef0": self.coef0},
            "sigmoid": {"gamma": self.gamma_, "coef0": self.coef0},
        }
        if self.kernel not in args:
            raise ValueError(f"unknown kernel {self.kernel!r}; choose one of {sorted(args)}")
        X = np.asarray(X, dtype=np.float64)
        return pairwise_kernels(X, self.X_fit_, metric=self.kernel, **args[self.kernel])
