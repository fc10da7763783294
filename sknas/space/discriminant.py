"""scikit-learn's linear discriminant analysis, as arithmetic without the estimator's overhead.

Two places run LDA many times on a few hundred rows, where scikit-learn's input checks (and, for the
shrinkage solver, a ``StandardScaler`` per class) cost more than the arithmetic:

- the LDA map's alternation (:class:`sknas.space.builder.LDAHead`): KMeans and an SVD-solver LDA for up to
  five rounds from five starts, 25 discriminant fits and 25 label comparisons per fit of the map (iris: 1.9 ms
  a ``LinearDiscriminantAnalysis`` fit, 2.2 ms an ``adjusted_rand_score``): :func:`svd_discriminant`,
  :func:`adjusted_rand`;
- :func:`sknas.evaluation.scores.separability`, at every candidate scoring: a shrinkage LDA fitted on half the
  scoring rows and applied to the other half: :func:`shrinkage_lda_projection`.

Each does the estimator's arithmetic, operation for operation: the LDA map is bit-identical and the
separability scores agree to 1e-16 (``tests/test_lda_map.py`` and ``tests/test_selection.py`` pin them to
scikit-learn; ``docs/speed.md``).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from sklearn.covariance import ledoit_wolf_shrinkage

#: scikit-learn's ``LinearDiscriminantAnalysis(tol=1e-4)``: singular values below it count as rank-deficient.
SVD_TOL = 1e-4


def svd_discriminant(X, labels):
    """``LinearDiscriminantAnalysis(solver="svd").fit(X, labels)``'s ``scalings_`` and ``xbar_``.

    The projection of rows ``X_new`` is then ``(X_new - xbar) @ scalings`` (the estimator's ``transform``,
    before it keeps its first ``n_components`` columns).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    labels : ndarray of shape (n_samples,), int
        At least two distinct values.

    Returns
    -------
    scalings : ndarray of shape (n_features, rank)
    xbar : ndarray of shape (n_features,)

    Raises
    ------
    ValueError
        As the estimator: as many rows as classes, or non-finite values.
    IndexError, numpy.linalg.LinAlgError
        As the estimator's solver on degenerate rows (no within-class spread, no convergence).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0], [0.2, 1.1], [3.0, 0.0], [3.1, 0.3]])
    >>> scalings, xbar = svd_discriminant(X, np.array([0, 0, 1, 1]))
    >>> scalings.shape, xbar.round(3).tolist()
    ((2, 1), [1.575, 0.6])
    """
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    n_samples, n_classes = len(X), len(classes)
    if n_samples == n_classes:
        raise ValueError("The number of samples must be more than the number of classes.")
    priors = counts.astype(X.dtype) / float(n_samples)
    means = np.zeros((n_classes, X.shape[1]), dtype=X.dtype)
    np.add.at(means, inverse, X)  # scikit-learn's _class_means: the same summation order
    means /= np.bincount(inverse)[:, None]
    Xc = np.concatenate([X[labels == group] - means[i] for i, group in enumerate(classes)], axis=0)
    xbar = priors @ means
    std = np.std(Xc, axis=0)
    std[std == 0] = 1.0
    fac = np.asarray(1.0 / n_samples, dtype=X.dtype)
    _, S, Vt = scipy.linalg.svd(np.sqrt(fac) * (Xc / std), full_matrices=False)
    rank = np.sum((S > SVD_TOL).astype(np.int32))
    scalings = (Vt[:rank, :] / std).T / S[:rank]
    fac = 1.0 / (n_classes - 1)
    centers = ((np.sqrt((n_samples * priors) * fac)) * (means - xbar).T).T @ scalings
    _, S, Vt = scipy.linalg.svd(centers, full_matrices=False)
    rank = np.sum((S > SVD_TOL * S[0]).astype(np.int32))
    return scalings @ Vt.T[:, :rank], xbar


def adjusted_rand(labels_a, labels_b):
    """``sklearn.metrics.adjusted_rand_score`` of two integer labellings, from the same integer pair counts.

    Examples
    --------
    >>> adjusted_rand([0, 0, 1, 1], [1, 1, 0, 0]), adjusted_rand([0, 0, 1, 1], [0, 1, 0, 1])
    (1.0, -0.5)
    """
    _, a = np.unique(labels_a, return_inverse=True)
    _, b = np.unique(labels_b, return_inverse=True)
    n_samples = len(a)
    contingency = np.bincount(a * (b.max() + 1) + b).astype(np.int64)
    contingency = contingency[contingency > 0]
    rows, cols = np.bincount(a).astype(np.int64), np.bincount(b).astype(np.int64)
    # scikit-learn's pair_confusion_matrix, in Python integers (exact)
    sum_squares = int((contingency ** 2).sum())
    tp = sum_squares - n_samples
    fp = int((cols ** 2).sum()) - sum_squares
    fn = int((rows ** 2).sum()) - sum_squares
    tn = n_samples ** 2 - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def shrinkage_lda_projection(X, labels, X_new):
    """``LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(X, labels).transform(X_new)``, in numpy.

    The same arithmetic as scikit-learn's estimator (Ledoit-Wolf shrinkage of each class's covariance on
    standardised columns, the generalised eigenproblem of between- against within-class scatter), to
    rounding: the estimator's input checks and per-class StandardScaler fits cost 3-4x the arithmetic on
    the few hundred rows a search scores, and :func:`sknas.evaluation.scores.separability` runs at every scoring
    (``docs/speed.md``). Eigenvector signs may differ, which no silhouette sees.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the within-class scatter is singular.
    """
    classes, counts = np.unique(labels, return_counts=True)
    within = sum((n / len(labels)) * _shrunk_covariance(X[labels == c]) for c, n in zip(classes, counts))
    values, vectors = scipy.linalg.eigh(_shrunk_covariance(X) - within, within)
    vectors = vectors[:, np.argsort(values)[::-1]]
    return X_new @ vectors[:, :min(len(classes) - 1, X.shape[1])]


def _shrunk_covariance(X):
    """scikit-learn's ``discriminant_analysis._cov(X, shrinkage="auto")``: Ledoit-Wolf on standardised columns,
    scaled back (near-constant columns keep scale 1, as in ``StandardScaler``)."""
    mean, var = X.mean(axis=0), X.var(axis=0)
    eps = np.finfo(np.float64).eps
    scale = np.sqrt(var)
    constant = var <= len(X) * eps * var + (len(X) * mean * eps) ** 2
    scale[constant | (scale < 10 * eps)] = 1.0
    standardised = (X - mean) / scale
    shrinkage = ledoit_wolf_shrinkage(standardised, assume_centered=True)
    covariance = standardised.T @ standardised / len(X)
    mu = np.trace(covariance) / covariance.shape[0]
    covariance *= 1.0 - shrinkage
    covariance.flat[::covariance.shape[0] + 1] += shrinkage * mu
    return scale[:, None] * covariance * scale[None, :]
