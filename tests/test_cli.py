"""`sknas search` on a CSV: segments.csv, model.zip and report.html."""

import numpy as np
import pandas as pd
import pytest

import sknas
from sknas.cli import main
from sknas.datasets import make_customers

FAST_CLI = ["--max-trials", "2", "--max-epochs", "2", "--cluster-range", "2", "4", "--device", "cpu",
            "--threads", "1"]


@pytest.fixture
def customers_csv(tmp_path):
    frame = make_customers(n_samples=150, random_state=0, as_frame=True).data
    frame.insert(0, "customer_id", [f"C{i:04d}" for i in range(len(frame))])
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_search_writes_three_outputs(customers_csv, tmp_path, capsys):
    path, frame = customers_csv
    out = tmp_path / "out"
    assert main(["search", str(path), "--method", "random", "--clusters", "auto", "--out", str(out),
                 "--id-column", "customer_id", *FAST_CLI]) == 0
    segments = pd.read_csv(out / "segments.csv")
    assert list(segments.columns) == ["customer_id", "segment"]
    assert list(segments["customer_id"]) == list(frame["customer_id"])
    model = sknas.load(out / "model.zip")
    X = pd.read_csv(path).drop(columns=["customer_id"])
    np.testing.assert_array_equal(model.predict(X), segments["segment"].to_numpy())
    assert model.n_clusters_ in (2, 3, 4)
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") >= 4
    assert "Provenance" in report and "customers.csv" in report
    printed = capsys.readouterr().out
    assert "segments in" in printed
    description = model.segment_profiles_["description"].iloc[0]
    assert f"segment 0: {model.segment_profiles_['size'].iloc[0]} rows" in printed and description in printed


def test_search_fixed_k_darts_and_bad_arguments(customers_csv, tmp_path):
    path, _ = customers_csv
    out = tmp_path / "darts"
    main(["search", str(path), "--method", "darts", "--clusters", "3", "--out", str(out), "--drop", "customer_id",
          *FAST_CLI])
    assert set(pd.read_csv(out / "segments.csv")["segment"]) == {0, 1, 2}
    assert isinstance(sknas.load(out / "model.zip").search_, sknas.DARTSFeatureSearch)
    with pytest.raises(SystemExit):
        main(["search", str(path), "--clusters", "many", "--out", str(out)])
    with pytest.raises(SystemExit, match="no column"):
        main(["search", str(path), "--out", str(out), "--drop", "nope", *FAST_CLI])


@pytest.mark.parametrize("sep, decimal", [(";", ","), ("\t", "."), ("|", "."), (",", ".")])
def test_csv_delimiter_and_decimal_mark_are_sniffed(tmp_path, sep, decimal):
    """A spreadsheet's export in a locale with a decimal comma (";" and ","), or tab- and pipe-separated files,
    read as the same table a plain CSV gives."""
    from sknas.cli import read_table

    frame = make_customers(n_samples=40, random_state=0, as_frame=True).data.round(3)
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False, sep=sep, decimal=decimal)
    read = read_table(path)
    assert list(read.columns) == list(frame.columns)
    np.testing.assert_allclose(read["spend"], frame["spend"])
    assert read_table(path, sep=sep, decimal=decimal).equals(read)


def test_search_on_a_semicolon_file(customers_csv, tmp_path):
    path, frame = customers_csv
    semicolons = tmp_path / "customers_semicolons.csv"
    frame.to_csv(semicolons, index=False, sep=";", decimal=",")
    out = tmp_path / "out"
    main(["search", str(semicolons), "--clusters", "3", "--out", str(out), *FAST_CLI])
    model = sknas.load(out / "model.zip")
    assert model.column_roles_["spend"] == "numeric" and model.column_roles_["customer_id"] == "id"
    assert list(pd.read_csv(out / "segments.csv")["customer_id"]) == list(frame["customer_id"])


def test_csv_in_a_spreadsheet_encoding_and_other_formats(tmp_path):
    """A Windows-1252 export (accents) reads as a UTF-8 file does; an Excel or Parquet file without its reader
    package is a clear exit naming the package, not a decoding traceback."""
    from sknas.cli import read_table

    frame = pd.DataFrame({"city": ["Zürich", "Besançon", "Málaga"] * 10, "spend": np.arange(30.0)})
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False, sep=";", decimal=",", encoding="cp1252")
    read = read_table(path)
    assert read.equals(frame)
    for suffix, package in ((".xlsx", "openpyxl"), (".parquet", "pyarrow")):
        try:
            __import__(package)
        except ImportError:
            (tmp_path / f"table{suffix}").write_bytes(b"")
            with pytest.raises(SystemExit, match=f"needs {package}"):
                read_table(tmp_path / f"table{suffix}")
    with pytest.raises(SystemExit, match="no file"):
        read_table(tmp_path / "missing.csv")


def test_search_says_when_long_tailed_columns_were_transformed(long_tailed_blobs, tmp_path, capsys):
    """A long-tailed column leaves a tiny segment at every k: the command line says the search ran again with it
    power-transformed, and the saved model carries ``deskewed_``."""
    long_tailed_blobs.to_csv(tmp_path / "spend.csv", index=False)
    out = tmp_path / "out"
    assert main(["search", str(tmp_path / "spend.csv"), "--method", "random", "--out", str(out), "--max-trials", "2",
                 "--max-epochs", "2", "--device", "cpu", "--threads", "1", "--random-state", "0"]) == 0
    assert "power-transformed and the search ran again" in capsys.readouterr().out
    assert sknas.load(out / "model.zip").deskewed_


def test_warnings_read_as_a_command_line_users_news(customers_csv, tmp_path, capsys):
    # The id column is left out with a warning: its text on stderr, not the file and source line that raised it.
    path, _ = customers_csv
    assert main(["search", str(path), "--clusters", "3", "--out", str(tmp_path / "out"), *FAST_CLI]) == 0
    err = capsys.readouterr().err
    assert "warning: Left out 1 column(s): 'customer_id'" in err
    assert "UserWarning" not in err and ".py:" not in err
