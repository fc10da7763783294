"""Warm starts: begin a search or a feature map from what earlier fits learned.

- :mod:`~sknas.warmstart.transfer`: ``init=`` (architectures or a fitted estimator) and weight transfer;
- :mod:`~sknas.warmstart.zoo`: ``init="zoo"``, the shipped architectures of the most similar datasets;
- :mod:`~sknas.warmstart.metafeatures`: the numbers that say which dataset a table resembles.
"""
