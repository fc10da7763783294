"""What a user reads about a fit: segment profiles, plots and the HTML report.

- :mod:`~sknas.reporting.profiles`: each segment's size, share, drivers and a one-line description;
- :mod:`~sknas.reporting.plotting`: matplotlib plots of searches, architectures and segments;
- :mod:`~sknas.reporting.report`: the self-contained HTML report of a fitted estimator.

matplotlib is optional (``pip install 'sknas[plot]'``) and imported only when a plot is drawn.
"""
