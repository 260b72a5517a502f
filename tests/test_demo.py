"""The demo tour (`fastnut demo`, `python -m fastnut`): usage, the table, the figures."""
import io
import os
import sys

import pytest

from fastnut import __main__ as demo


def test_help_lists_every_demo(capsys):
    assert demo.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fastnut [demo] [FAMILY ...]\n")
    for name, fn in demo.DEMOS:
        assert f"  {name:<12s} {fn.__doc__.strip().splitlines()[0]}\n" in out
    assert "FASTNUT_PLOTS=DIR" in out


def test_unknown_demo_is_an_error_with_the_list(capsys):
    assert demo.main(["demo", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown demo nope; the demos are mlp, cnn, rnn, som, rbm, autoencoder" in err
    assert "fastnut --help" in err


def test_tour_prints_an_aligned_table_and_saves_the_figures(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    figures = tmp_path / "not" / "yet"
    monkeypatch.setenv("FASTNUT_PLOTS", str(figures))
    assert demo.main(["demo", "som"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("family"))
    rows = [line for line in lines if line.startswith("som ")]
    assert len(rows) == 2
    value_end, fit_end = header.index("value") + len("value"), len(header)
    for row in rows:
        assert len(row) == fit_end, (row, header)
        # a right-aligned number ends under the end of its heading
        float(row[value_end - 7:value_end])
        float(row[fit_end - 6:])
        assert row[len("family") + 6:].lstrip().startswith("SelfOrganizingMap")
    assert "topographic error ↓" in rows[0] and "accuracy ↑" in rows[1]
    saved = [line.split("saved ", 1)[1] for line in lines if " saved " in line]
    assert sorted(os.path.basename(p) for p in saved) == [
        "som_digits_hits.png", "som_rgb.png", "som_rgb_umatrix.png"]
    for path in saved:
        assert os.path.dirname(path) == str(figures)
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert f"figures go to {figures}" in lines
    assert lines[-1].startswith("done in ")


def test_a_row_without_a_fit_shows_a_dash():
    out = io.StringIO()
    tour = demo._Tour(out)
    tour.family = "autoencoder"
    with tour.row("Autoencoder (16-D)", "noise images found: ROC AUC ↑") as row:
        row.value = 1.0
    line = out.getvalue()
    assert line.rstrip("\n").endswith(" 1.0000      —")


def test_figures_without_matplotlib_say_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib fails
    out = io.StringIO()
    tour = demo._Tour(out)
    assert tour.open_figures(str(tmp_path / "figs")) is False
    assert 'pip install "fastnut[plot]"' in out.getvalue()
    assert "The tour runs without the figures." in out.getvalue()
    assert not (tmp_path / "figs").exists()
    tour.save(lambda: None, "never.png")   # no folder: nothing is drawn or saved


def test_ascii_terminals_get_ascii_arrows():
    class Latin1(io.StringIO):
        encoding = "latin-1"
    assert demo._text("accuracy ↑, error ↓, R² ↑", Latin1()) == "accuracy ^, error v, R² ^"
