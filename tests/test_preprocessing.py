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
