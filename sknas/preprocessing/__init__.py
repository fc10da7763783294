"""Rows in, numbers out: how the estimators read a user's table.

- :mod:`~sknas.preprocessing.tabular`: input validation and the internal standardiser/encoder every
  estimator fits (numeric columns standardised, categorical columns as indicator blocks);
- :mod:`~sknas.preprocessing.table_columns`: ``AutoSegmenter``'s column roles for a raw customer table
  (identifiers, dates, free text dropped or converted, with the reason kept).
"""
