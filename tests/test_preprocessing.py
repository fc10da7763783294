"""The internal standardisation every estimator applies before anything else."""

import numpy as np

from sknas.preprocessing.tabular import Standardizer


def test_numeric_columns_are_standardised_and_huge_values_survive():
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(5, 3, 200), rng.normal(0, 1, 200) * 1e300])
    Z = Standardizer().fit(X).transform(X)
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-4)


def test_two_valued_columns_become_zero_one_so_rare_flags_do_not_dominate():
    rng = np.random.RandomState(0)
    flag = (rng.rand(300) < 0.05).astype(float) * 7.0 + 2.0  # values 2 and 9, the upper one rare
    X = np.column_stack([rng.normal(size=300), flag, np.full(300, 4.0)])
    scaler = Standardizer().fit(X)
    Z = scaler.transform(X)
    assert set(np.unique(Z[:, 1])) == {0.0, 1.0}
    assert np.array_equal(Z[:, 1] == 1.0, flag == 9.0)
    assert np.all(Z[:, 2] == 0.0)  # constant columns stay zeros
    # the same map at transform, new rows included (an unseen value is scaled linearly, not clipped)
    assert np.allclose(scaler.transform(np.array([[0.0, 5.5, 4.0]]))[0, 1:], [0.5, 0.0])


def test_skewed_columns_are_power_transformed_only_when_asked():
    """deskew_skewness off by default; finite, it takes the long tail out of skewed columns and no other."""
    from scipy.stats import skew

    from sknas.config import config_context

    rng = np.random.RandomState(0)
    X = np.column_stack([rng.lognormal(0.0, 1.0, 500), rng.normal(size=500), rng.rand(500) < 0.1,
                         rng.poisson(0.3, 500)])
    assert Standardizer().fit(X).power_ == {}
    scaler = Standardizer(deskew_skewness=1.0).fit(X)
    assert sorted(scaler.power_) == [0, 3]  # the flag (two values) and the normal column are left as they are
    Z = scaler.transform(X)
    assert abs(skew(Z[:, 0])) < 0.5 and skew(X[:, 0]) > 2.5
    np.testing.assert_allclose(Z.mean(axis=0)[[0, 3]], 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=0)[[0, 3]], 1, atol=1e-4)
    np.testing.assert_array_equal(Z[:, 1:3], Standardizer().fit(X).transform(X)[:, 1:3])
    with config_context(deskew_skewness=1.0):
        assert sorted(Standardizer().fit(X).power_) == [0, 3]
    # New rows go through the exponents fitted before, finite beyond the fitted range too.
    assert np.isfinite(scaler.transform(X * 100)).all()
    del scaler.power_  # a scaler saved before the setting existed
    np.testing.assert_array_equal(scaler.transform(X), Standardizer().fit(X).transform(X))
