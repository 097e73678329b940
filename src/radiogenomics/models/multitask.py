"""One network for several traits: the single-trait network's trunk, one head per trait.

The trunk is :class:`~radiogenomics.models.classifier.ClassifierModule`'s (input dropout, then
DenseBlocks that can be transferred from the autoencoder and frozen), with the same parameter
names, so :meth:`MultiTaskModule.trait_view` copies the trunk and one head into a plain
single-trait ``ClassifierModule``: its forward gives that trait's logits, and every consumer of a
single-trait network (bundles, masking, saliency, ``task=predict``/``interpret``) takes it as it is.

A trait missing for a patient (label ``MISSING``) is left out of that trait's loss, so the patient
changes neither that head's gradient nor the loss's scale (the weighted sum over traits is divided
by the sum of every trait's weight, present in the batch or not).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from radiogenomics.data.multitask import MISSING
from radiogenomics.evaluation.metrics import auroc
from radiogenomics.models.autoencoder import check_finite_loss
from radiogenomics.models.blocks import build_optimizer
from radiogenomics.models.classifier import ClassifierModule
from radiogenomics.models.inputs import build_input

HEAD_KINDS = ("categorical",)  # trait kinds with a head here (ordinal, continuous: not yet)


def head_outputs(head: Mapping) -> int:
    """Output units of a trait's head: 1 logit (binary) or one per class."""
    if head["kind"] not in HEAD_KINDS:
        raise ValueError(
            f"trait {head['name']!r}: the multi-task network has no {head['kind']} head; "
            f"heads: {list(HEAD_KINDS)}"
        )
    return 1 if int(head["n_classes"]) == 2 else int(head["n_classes"])


def build_head(head: Mapping, in_features: int) -> nn.Module:
    """The output layer of one trait (``head``: name, kind, n_classes)."""
    return nn.Linear(in_features, head_outputs(head))


def head_logits(head: Mapping, output: torch.Tensor) -> torch.Tensor:
    """A head's output as the single-trait network's logits: (n,) binary, (n, K) multiclass."""
    return output.squeeze(-1) if head_outputs(head) == 1 else output


def head_probabilities(head: Mapping, logits: torch.Tensor) -> torch.Tensor:
    """Positive-class probability (binary) or class probabilities, as ``ClassifierModule``."""
    return torch.sigmoid(logits) if head_outputs(head) == 1 else torch.softmax(logits, dim=-1)


def head_loss(head: Mapping, logits: torch.Tensor, y: torch.Tensor, weights: torch.Tensor):
    """Class-balanced cross-entropy of labelled patients, as ``ClassifierModule.loss``."""
    if head_outputs(head) == 1:
        per = nn.functional.binary_cross_entropy_with_logits(logits, y.float(), reduction="none")
        return (per * weights[y]).mean()
    return nn.functional.cross_entropy(logits, y, weight=weights)


class MultiTaskModule(pl.LightningModule):
    """Shared trunk and one head per trait; ``forward`` gives each head's logits, in trait order.

    ``heads``: one mapping per trait (``name``, ``kind``, ``n_classes``); ``class_weights``: per
    trait, that trait's fit patients' balanced weights (None: equal); ``loss_weights``: per trait.
    Batches are ``(x, Y)`` with ``Y`` (n, traits), ``MISSING`` where a patient has no label.
    ``val_auroc`` (epoch selection and early stopping) is the mean over traits of each trait's
    inner-validation AUROC (0.5 where a trait's validation patients hold one class only).
    """

    def __init__(
        self,
        n_genes: int,
        heads: Sequence[Mapping],
        hidden_dims: Sequence[int],
        activation: str = "tanh",
        batchnorm: bool = True,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        freeze_layers: int = 0,
        optimizer: Mapping | None = None,
        class_weights: Sequence[Sequence[float]] | None = None,
        loss_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        hidden_dims = list(hidden_dims)
        if not 0 <= freeze_layers <= len(hidden_dims):
            raise ValueError(f"freeze_layers={freeze_layers} must be in 0..{len(hidden_dims)}")
        self.heads_spec = [dict(h) for h in heads]
        self.input_dropout = nn.Dropout(input_dropout)
        _, self.blocks = build_input(
            "genes", n_genes, 0, hidden_dims, activation, batchnorm, dropout
        )
        self.heads = nn.ModuleList([build_head(h, hidden_dims[-1]) for h in self.heads_spec])
        for t, head in enumerate(self.heads_spec):
            k = int(head["n_classes"])
            w = torch.ones(k) if class_weights is None else torch.tensor(class_weights[t])
            self.register_buffer(f"class_weights_{t}", w.float())
        weights = [1.0] * len(self.heads_spec) if loss_weights is None else list(loss_weights)
        if len(weights) != len(self.heads_spec) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"loss_weights={weights}: one weight >= 0 per trait, not all 0")
        self.register_buffer("loss_weights", torch.tensor(weights, dtype=torch.float32))
        self.optimizer_cfg = dict(optimizer or {"name": "adam", "lr": 1e-3})
        self.freeze_layers = freeze_layers
        for block in self.blocks[:freeze_layers]:
            block.requires_grad_(False)
        self._val: list[tuple[list[torch.Tensor], torch.Tensor]] = []
        self.val_aurocs: dict[str, float] = {}
        self.train()

    def load_encoder(self, encoder: nn.ModuleList, n_layers: int) -> None:
        """Copy the first ``n_layers`` encoder blocks, as the single-trait network does."""
        probe = ClassifierModule(**self.view_arguments(0))
        probe.blocks = self.blocks  # the same modules: its checks and copy act on the trunk
        probe.load_encoder(encoder, n_layers)

    def train(self, mode: bool = True) -> MultiTaskModule:
        """Switch modes, keeping frozen blocks (and their BatchNorm statistics) in eval mode."""
        super().train(mode)
        for block in self.blocks[: self.freeze_layers]:
            block.eval()
        return self

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The shared representation of standardised expression ``x``."""
        h = self.input_dropout(x)
        for block in self.blocks:
            h = block(h)
        return h

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each trait's logits, as its single-trait network would give them."""
        h = self.trunk(x)
        return [
            head_logits(s, head(h)) for s, head in zip(self.heads_spec, self.heads, strict=True)
        ]

    def class_weights(self, t: int) -> torch.Tensor:
        """Trait ``t``'s class weights."""
        return getattr(self, f"class_weights_{t}")

    def loss(self, outputs: list[torch.Tensor], Y: torch.Tensor) -> torch.Tensor:
        """Weighted sum over traits of each trait's loss on its labelled patients / sum of weights."""
        total = outputs[0].new_zeros(())
        for t, (head, logits) in enumerate(zip(self.heads_spec, outputs, strict=True)):
            labelled = Y[:, t] != MISSING
            if labelled.any():
                y = Y[labelled, t]
                total = total + self.loss_weights[t] * head_loss(
                    head, logits[labelled], y, self.class_weights(t)
                )
        return total / self.loss_weights.sum()

    def training_step(self, batch, batch_idx):
        x, Y = batch
        loss = self.loss(self(x), Y)
        check_finite_loss(self, loss, "fine-tuning", "model.optimizer.lr")
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, Y = batch
        outputs = self(x)
        loss = self.loss(outputs, Y)
        check_finite_loss(self, loss, "fine-tuning", "model.optimizer.lr", "validation")
        pairs = zip(self.heads_spec, outputs, strict=True)
        probs = [head_probabilities(h, o).detach().float().cpu() for h, o in pairs]
        self._val.append((probs, Y.cpu()))
        self.log("val_loss", loss, on_step=False, on_epoch=True)

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        Y = torch.cat([y for _, y in self._val]).numpy()
        self.val_aurocs = {}
        for t, head in enumerate(self.heads_spec):
            probs = torch.cat([p[t] for p, _ in self._val]).numpy()
            labelled = Y[:, t] != MISSING
            value = auroc(Y[labelled, t], probs[labelled]) if labelled.any() else float("nan")
            self.val_aurocs[head["name"]] = float(np.nan_to_num(value, nan=0.5))
        self._val = []
        self.log("val_auroc", float(np.mean(list(self.val_aurocs.values()))), prog_bar=True)

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        return build_optimizer(params, self.optimizer_cfg)

    def view_arguments(self, t: int) -> dict:
        """``ClassifierModule`` arguments of trait ``t``'s single-trait view."""
        hp = self.hparams
        return {
            "n_genes": int(hp.n_genes),
            "n_classes": int(self.heads_spec[t]["n_classes"]),
            "hidden_dims": list(hp.hidden_dims),
            "activation": hp.activation,
            "batchnorm": bool(hp.batchnorm),
            "dropout": float(hp.dropout),
            "input_dropout": float(hp.input_dropout),
            "freeze_layers": int(hp.freeze_layers),
            "optimizer": dict(self.optimizer_cfg),
            "class_weights": self.class_weights(t).tolist(),
        }

    def trait_view(self, t: int) -> ClassifierModule:
        """Trait ``t`` as a single-trait network (eval mode): trunk and head ``t``, copied."""
        view = ClassifierModule(**self.view_arguments(t))
        state = {k: v for k, v in self.state_dict().items() if k.startswith("blocks.")}
        state.update({f"head.{k}": v for k, v in self.heads[t].state_dict().items()})
        state["class_weights"] = self.class_weights(t)
        view.load_state_dict(state)
        return view.eval()
