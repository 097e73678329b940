"""Overrides for seconds-long runs of the real pipeline (tests, ``benchmark.py --quick``)."""

# small enough for seconds-long fits, large enough to keep every planted gene
TINY_OVERRIDES = [
    "data.synthetic.n_genes=1500",
    "data.synthetic.n_pretrain=60",
    "data.synthetic.n_annotated=90",
    "pretrain.hidden_dims=[32,16,8]",
    "pretrain.max_epochs=3",
    "trainer.max_epochs=8",
    "callbacks.early_stopping.patience=4",
    "logger=none",
]
