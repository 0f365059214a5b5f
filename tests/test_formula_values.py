"""The formula evaluator that gives a built quote its cached values, on hand-written formulas.

Each expected value is worked out by hand from Excel's documented rules: a blank cell is 0 in
arithmetic and "" in text comparisons, text compares without regard to case and sorts after
numbers (and before booleans), errors propagate left to right, IF keeps one branch.
"""

import math

import pytest

from llmcalc_xl.workbook import formula_values as FV
from llmcalc_xl.workbook.formula_values import value_of

#: A small sheet: B1:B6 hold a number, text, a blank (B3), a boolean, text that reads as a number, and an id.
CELLS = {"Sheet": {"B1": 4, "B2": "apple", "B4": True, "B5": "3", "B6": "H100-SXM", "C1": 10, "C2": 20, "C3": 30}}


def v(formula, cells=CELLS, **kw):
    return value_of(formula, cells, **kw)


@pytest.mark.parametrize("formula, want", [
    ("=-2^2", 4.0),                 # negation binds tighter than ^
    ("=2+3*4^2", 50.0),
    ("=2^3^2", 64.0),               # ^ is left-associative: (2^3)^2
    ("=50%", 0.5),
    ("=10-4-3", 3.0),
    ("=12/4/3", 1.0),
    ("=(1+2)*3", 9.0),
    ("=1+2&\"x\"", "3x"),            # & binds after +
    ("=1+2=3", True),               # = binds last
    ("=1E9*2", 2e9),
])
def test_operator_precedence(formula, want):
    assert v(formula) == want


@pytest.mark.parametrize("formula, want", [
    ("=B3+1", 1.0),                 # blank is 0 in arithmetic
    ("=B3*5", 0.0),
    ("=B3=\"\"", True),             # and "" in a text comparison
    ("=B3=0", True),
    ("=B3=FALSE", True),
    ("=B3=\"apple\"", False),
    ("=B3<1", True),
    ("=B3&\"x\"", "x"),
    ("=IF(TRUE,B3)", 0.0),          # a cell showing a blank shows 0
    ("=IF(TRUE,B3)=\"\"", True),    # ... but IF hands on the blank itself
    ("=INDEX(B1:B6,3)=\"\"", True),
    ("=N(INDEX(B1:B6,3))", 0.0),
    ("=MAX(B3,-5)", -5.0),          # a blank cell in MAX is ignored
    ("=AND(TRUE,B3)", True),
    ("=AND(B3)", "#VALUE!"),        # nothing to test
])
def test_blank_cells(formula, want):
    assert v(formula) == want


@pytest.mark.parametrize("formula, want", [
    ("=\"abc\"=\"ABC\"", True),
    ("=\"a\"<\"B\"", True),
    ("=\"b\">\"A\"", True),
    ("=1<\"a\"", True),             # numbers sort before text
    ("=\"z\"<TRUE", True),          # text sorts before booleans
    ("=\"3\"=3", False),            # text is never equal to a number
    ("=B5=3", False),
    ("=\"3\"+1", 4.0),              # but arithmetic reads it as one
    ("=\"x\"+1", "#VALUE!"),
    ("=B2<>\"APPLE\"", False),
    ("=0.1+0.2=0.3", True),         # equal to 15 digits
])
def test_comparisons_and_text(formula, want):
    assert v(formula) == want


@pytest.mark.parametrize("formula, want", [
    ("=1/0", "#DIV/0!"),
    ("=#N/A+1", "#N/A"),
    ("=(1/0)+#N/A", "#DIV/0!"),     # the left error wins
    ("=IFERROR(1/0,\"z\")", "z"),
    ("=IFERROR(5,\"z\")", 5.0),
    ("=IF(#N/A,1,2)", "#N/A"),
    ("=IF(TRUE,1,1/0)", 1.0),       # the branch not taken is not an error
    ("=ISNA(MATCH(\"q\",B1:B6,0))", True),
    ("=ISNA(1/0)", False),
    ("=ISNUMBER(B5)", False),
    ("=ISNUMBER(B1)", True),
    ("=\"a\"&1/0", "#DIV/0!"),
    ("=10^400", "#NUM!"),
    ("=0.5^2000", 0.0),             # Excel rounds an underflow to 0
    ("=IF(\"abc\",1,2)", "#VALUE!"),
    ("=IF(\"true\",1,2)", 1.0),
    ("=NOT(#REF!)", "#REF!"),
])
def test_errors(formula, want):
    assert v(formula) == want


@pytest.mark.parametrize("formula, want", [
    ("=MATCH(\"h100-sxm\",B1:B6,0)", 6.0),      # without regard to case
    ("=MATCH(\"H1*\",B1:B6,0)", 6.0),           # wildcards
    ("=MATCH(\"a?ple\",B1:B6,0)", 2.0),
    ("=MATCH(3,B1:B6,0)", "#N/A"),              # "3" is text
    ("=MATCH(TRUE,B1:B6,0)", 4.0),
    ("=MATCH(1,B1:B6,0)", "#N/A"),              # TRUE is not 1
    ("=MATCH(B3,B1:B6,0)", "#N/A"),             # a blank matches nothing
    ("=MATCH(20,C1:C3,0)", 2.0),                # a row of cells
    ("=INDEX(C1:C3,2)", 20.0),
    ("=INDEX(C1:C3,4)", "#REF!"),
    ("=INDEX(C1:C3,-1)", "#VALUE!"),
    ("=INDEX(C1:C3,MATCH(\"apple\",B1:B6,0))", 20.0),
    ("=IF(ISNA(MATCH(\"x\",B1:B6,0)),\"unknown\",\"known\")", "unknown"),
])
def test_lookups(formula, want):
    assert v(formula) == want


def test_index_of_a_whole_column_takes_the_formula_row():
    """INDEX(range, 0) is the whole column; in one cell it is the cell in the formula's own row
    (implicit intersection), or #VALUE! outside the range."""
    assert v("=INDEX($C$1:$C$3,0)", at="E2") == 20.0
    assert v("=INDEX($C$1:$C$3,0)", at="E7") == "#VALUE!"


@pytest.mark.parametrize("formula, want", [
    ("=AND(TRUE,B2)", True),            # text in a cell is ignored
    ("=AND(TRUE,\"x\")", "#VALUE!"),    # typed text is not
    ("=OR(FALSE,B1)", True),            # 4 counts as TRUE
    ("=OR(FALSE,0)", False),
    ("=AND(1,2,TRUE)", True),
    ("=NOT(0)", True),
    ("=MAX(B1:B6)", 4.0),               # text and booleans in a range are ignored
    ("=MIN(B1:B6)", 4.0),
    ("=MAX(\"7\",2)", 7.0),             # typed text that reads as a number counts
    ("=MAX(B2)", 0.0),
    ("=SUM(C1:C3,1)", 61.0),
    ("=SUM(B1:B6)", 4.0),
    ("=INT(-2.5)", -3.0),
    ("=INT(2.9999999999999996)", 3.0),  # 15 significant digits first
    ("=ROUNDUP(2.01,0)", 3.0),
    ("=ROUNDUP(-2.01,0)", -3.0),        # away from zero
    ("=ROUNDUP(1.2341,2)", 1.24),
    ("=ROUNDUP(64.00000000000001,0)", 64.0),
    ("=ROUNDUP(1024/16,0)", 64.0),
    ("=N(\"a\")", 0.0),
    ("=N(TRUE)", 1.0),
    ("=N(B1)", 4.0),
])
def test_logic_and_numbers(formula, want):
    assert v(formula) == want


@pytest.mark.parametrize("formula, want", [
    ("=SEARCH(\"GPU\",\"apple;gpu\")", 7.0),
    ("=SEARCH(\"x\",\"apple\")", "#VALUE!"),
    ("=SEARCH(\"p*e\",\"apple\")", 2.0),
    ("=ISNUMBER(SEARCH(\";fp8;\",\";\"&SUBSTITUTE(\"fp16; fp8\",\" \",\"\")&\";\"))", True),
    ("=SUBSTITUTE(\"a b c\",\" \",\"\")", "abc"),
    ("=SUBSTITUTE(\"a-a-a\",\"-\",\"+\",2)", "a-a+a"),
    ("=TEXT(1234.5,\"#,##0\")", "1,235"),
    ("=TEXT(2.5,\"0\")", "3"),                      # half away from zero
    ("=TEXT(0.5,\"0.0000\")", "0.5000"),
    ("=TEXT(-1234.567,\"$#,##0.00\")", "-$1,234.57"),
    ("=TEXT(0.256,\"0.0%\")", "25.6%"),
    ("=TEXT(1234567,\"#,##0\")&\" USD\"", "1,234,567 USD"),
    ("=COUNTIF(B1:B6,\"?*\")", 3.0),                # text of one character or more
    ("=COUNTIF(C1:C3,\">15\")", 2.0),
    ("=COUNTIF(B1:B6,\"apple\")", 1.0),
    ("=1/4&\"\"", "0.25"),
    ("=1/3&\"\"", "0.333333333333333"),            # 15 significant digits
    ("=1E+20&\"\"", "1E+20"),
    ("=TRUE&\"\"", "TRUE"),
    ("=LOWER(\"AbC\")&UPPER(\"d\")", "abcD"),
    ("=TRIM(\"  a   b \")", "a b"),
    ("=LEN(\"four\")", 4.0),
])
def test_text_functions(formula, want):
    assert v(formula) == want


def test_defined_names_and_missing_arguments():
    names = {"rate": "Sheet!$C$2", "ids": "'Sheet'!$B$1:$B$6"}
    assert v("=rate*2", names=names) == 40.0
    assert v("=MATCH(\"apple\",ids,0)", names=names) == 2.0
    assert v("=nothing*2", names=names) == "#NAME?"
    assert v("=IF(FALSE,1)") is False
    assert v("=IF(TRUE,,2)") == 0.0


def test_formulas_that_use_other_formulas_are_computed_in_order():
    cells = {"Sheet": {"A1": "=A2*2", "A2": "=A3+1", "A3": 5}, "Other": {"A1": "=Sheet!A1&\" items\""}}
    assert v("=Other!A1", cells, at="D1") == "12 items"


def test_an_unknown_function_or_a_cycle_fails_loudly():
    with pytest.raises(FV.UnknownFunction, match="LLM_COST"):
        v("=LLM_COST(\"gpt-4o\",1000,500)")
    with pytest.raises(FV.FormulaError, match="circular"):
        v("=A1+1", {"Sheet": {"A1": "=B1"}}, at="B1")
    with pytest.raises(FV.FormulaError):
        v("=IF(1,2")


def test_a_run_is_computed_as_each_row_would_be():
    """One formula moved down 6 rows, computed at once, equals each row computed alone."""
    inputs = [3, None, "x", 1.5, True, -2]
    formula = '=IF($A{r}="","empty",IFERROR(IF($A{r}>2,$A{r}*2,$A{r}-1),"bad"))&"|"&ROUNDUP(N($A{r})/4,0)'
    book = FV.Book()
    book.add_run(FV.Run("S", 1, 5, len(inputs), values=inputs))
    run = book.add_run(FV.Run("S", 2, 5, len(inputs), formula=formula.format(r=5)))
    FV.evaluate(book)
    together = [run.result.python(i) for i in range(len(inputs))]
    alone = [value_of(formula.format(r=5 + i), {"S": {f"A{5 + i}": x}}, sheet="S", at=f"B{5 + i}")
             for i, x in enumerate(inputs)]
    # by hand: 3 > 2 -> 6, 3/4 -> 1; blank -> "empty", 0; "x" > 2 (text sorts after numbers), "x"*2 -> "bad", N("x") 0;
    # 1.5 -> 0.5, 0.375 -> 1; TRUE > 2 (booleans sort last) -> 2, 1/4 -> 1; -2 -> -3, ROUNDUP(-0.5) -> -1
    assert together == alone == ["6|1", "empty|0", "bad|0", "0.5|1", "2|1", "-3|-1"]


def test_general_number_text():
    assert FV.general(0.1 + 0.2) == "0.3"
    assert FV.general(123456789012345678.0) == "1.23456789012346E+17"
    assert FV.general(-1234567.25) == "-1234567.25"
    assert FV.general(0.000012345) == "0.000012345"
    assert FV.general(1e-20) == "1E-20"
    assert FV.general(1e15) == "1E+15"
    assert FV.general(999999999999999.0) == "999999999999999"
    assert math.isclose(float(FV.general(2 / 3)), 2 / 3, rel_tol=1e-14)


@pytest.mark.parametrize("formula, want", [
    ('=LEFT("apple",3)', "app"),
    ('=LEFT(B2)', "a"),                        # one character by default
    ('=LEFT("ab",10)', "ab"),
    ("=LEFT(B1,1)", "4"),                      # a number as its text
    ('=LEFT("ab",-1)', "#VALUE!"),
    ("=NA()", "#N/A"),
    ("=ISNA(NA())", True),
    ('=SUMIF(B1:B6,"apple",C1:C6)', 20.0),     # the row whose B is apple: C2
    ('=SUMIF(B1:B6,">3",C1:C6)', 10.0),        # B1 = 4 (the text "3" in B5 is not a number)
    ('=SUMIF(B1:B6,"nothing",C1:C6)', 0.0),
])
def test_left_na_sumif(formula, want):
    assert v(formula) == want
