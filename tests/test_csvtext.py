"""CSV cells a spreadsheet shows as text: formulas neutralised, numbers untouched, exact undo."""
from hypothesis import given
from hypothesis import strategies as st

from hpogrid.csvtext import neutralise, neutralise_row, restore


def test_formula_cells_become_text_and_numbers_stay_numbers():
    for text in ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\tx", "\r=1", "-inf", "-nan", "-"):
        assert neutralise(text) == "'" + text
    for text in ("-1.5", "-2e-05", "-3", "1e+300", "relu", "", "a=b", "0.1"):
        assert neutralise(text) == text
    assert neutralise("'quoted") == "''quoted"
    assert neutralise_row(["=x", 1, None, 2.5]) == ["'=x", 1, None, 2.5]


@given(st.text())
def test_restore_undoes_neutralise(text):
    cell = neutralise(text)
    assert restore(cell) == text
    assert not cell.startswith(("=", "+", "@", "\t", "\r")) and (not cell.startswith("-") or cell == text)
