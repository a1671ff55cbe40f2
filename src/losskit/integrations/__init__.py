"""Adapters that plug losskit's losses into other training libraries (optional extras).

* :mod:`losskit.integrations.transformers`: Hugging Face causal language models trained with the
  fused :func:`losskit.linear_cross_entropy` (extra ``losskit[transformers]``).
"""
