"""scikit-learn's own estimator checks on every public estimator (tests/_instances.py), none expected to fail."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from ._instances import PUBLIC, VARIANTS


# No check is skipped or expected to fail. scikit-learn itself skips its two array-API checks
# unless SCIPY_ARRAY_API=1 is set; sknas estimators take NumPy input only.
@parametrize_with_checks(PUBLIC + VARIANTS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
