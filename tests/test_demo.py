"""The demo runs end to end and prints its tables."""

import io

from sknas.cli import main, run_demo


def test_demo_prints_profiles_and_comparison():
    out = io.StringIO()
    pipe = run_demo(n_samples=300, max_trials=2, random_state=0, out=out)
    text = out.getvalue()
    assert "Segment profiles" in text
    assert "KMeans on raw columns" in text and "PCA(8) + KMeans" in text and "sknas RandomFeatureSearch" in text
    assert len(pipe.predict([[0.0] * pipe[1].n_features_in_])) == 1


def test_cli_rejects_unknown_command(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["nope"])
