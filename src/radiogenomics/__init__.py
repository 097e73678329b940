"""Radiogenomic neural networks: map tumour gene expression to imaging traits and explain them."""

__version__ = "0.1.0"
