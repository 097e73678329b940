"""Expression and label readers: formats, orientation, barcodes, duplicates, shipped ClaNC840."""

import gzip
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radiogenomics.data.io import (
    CLANC_LABEL_COLUMN,
    patient_id,
    read_expression,
    read_expression_data,
    read_label_table,
    resolve_path,
)
from radiogenomics.errors import DataError

from ..conftest import SHARED_DATA

CLANC_SHARED = SHARED_DATA / "novasmedley_deepRadiogenomics" / "TCGA_unified_CORE_ClaNC840.txt"
VASARI_SHARED = SHARED_DATA / "novasmedley_deepRadiogenomics" / "vasari_annotations.csv"

SAMPLES = ["TCGA-02-0003-01A-01", "TCGA-06-0174-01A", "TCGA-08-0354-01B-02R"]
PATIENTS = ["TCGA-02-0003", "TCGA-06-0174", "TCGA-08-0354"]
GENES = ["EGFR", "PDGFRA", "NF1", "IDH1"]


@pytest.fixture
def frame() -> pd.DataFrame:
    """Samples x genes with distinct values, as a user would hold them."""
    values = np.arange(12, dtype=float).reshape(3, 4) / 4 - 1
    return pd.DataFrame(values, index=pd.Index(SAMPLES, name="sample"), columns=GENES)


def _check(df: pd.DataFrame, frame: pd.DataFrame) -> None:
    assert list(df.index) == PATIENTS and list(df.columns) == GENES
    assert df.dtypes.unique().tolist() == [np.float32]
    np.testing.assert_allclose(df.to_numpy(), frame.to_numpy(), rtol=1e-6)


def test_barcodes_cut_to_patient():
    assert patient_id("TCGA-02-0003-01A-01") == "TCGA-02-0003"
    assert patient_id(" tcga-02-0003-01a ") == "TCGA-02-0003"
    assert patient_id("sample_7") == "sample_7"


@pytest.mark.parametrize(
    "name, sep, transpose",
    [
        ("expr.tsv", "\t", False),
        ("expr.tsv.gz", "\t", False),
        ("expr.csv", ",", False),
        ("expr.txt", "\t", True),
        ("expr.csv.gz", ",", True),
    ],
)
def test_text_tables_either_orientation(tmp_path, frame, name, sep, transpose):
    path = tmp_path / name
    (frame.T if transpose else frame).to_csv(path, sep=sep)
    data = read_expression_data(path)
    _check(data.expression, frame)
    assert data.report["orientation"] == ("genes_x_patients" if transpose else "patients_x_genes")


def test_delimiter_is_sniffed_not_taken_from_the_name(tmp_path, frame):
    path = tmp_path / "actually_tab.csv"
    frame.to_csv(path, sep="\t")
    _check(read_expression(path), frame)


def test_r_style_header_quotes_crlf_and_blank_lines(tmp_path, frame):
    lines = ['"' + '","'.join(GENES) + '"']  # R write.csv: no name above the row ids
    for sample, row in frame.iterrows():
        lines.append(f'"{sample}",' + ",".join(repr(v) for v in row))
    lines.insert(2, "")
    path = tmp_path / "r.csv"
    path.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    _check(read_expression(path), frame)


def test_orientation_override(tmp_path, frame):
    """Non-TCGA ids: auto-detection cannot decide, the override can."""
    renamed = frame.rename(index=dict(zip(SAMPLES, ["s1", "s2", "s3"], strict=True)))
    path = tmp_path / "ids.tsv"
    renamed.T.to_csv(path, sep="\t")
    df = read_expression(path, orientation="genes_x_patients")
    assert list(df.index) == ["s1", "s2", "s3"] and list(df.columns) == GENES


@pytest.mark.parametrize("ids_in_index", [True, False])
def test_parquet(tmp_path, frame, ids_in_index):
    path = tmp_path / "expr.parquet"
    (frame if ids_in_index else frame.reset_index()).to_parquet(path)
    _check(read_expression(path), frame)


def test_gct_1_2_and_1_3(tmp_path, frame):
    genes_x = frame.T
    v12 = ["#1.2", f"{len(GENES)}\t{len(SAMPLES)}", "Name\tDescription\t" + "\t".join(SAMPLES)]
    v13 = ["#1.3", f"{len(GENES)}\t{len(SAMPLES)}\t2\t1", "id\tdesc\tchr\t" + "\t".join(SAMPLES)]
    v13.append("batch\tna\tna\t" + "\t".join(["b1", "b1", "b2"]))
    for gene, row in genes_x.iterrows():
        values = "\t".join(str(v) for v in row)
        v12.append(f"{gene}\tna\t{values}")
        v13.append(f"{gene}\tdescription\tchr7\t{values}")
    for name, lines in (("a.gct", v12), ("b.gct.gz", v13)):
        path = tmp_path / name
        text = ("\n".join(lines) + "\n").encode()
        path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
        data = read_expression_data(path)
        assert data.report["format"] == "gct"
        _check(data.expression, frame)


def test_duplicate_genes_averaged_with_a_count(tmp_path, frame):
    dup = frame.copy()
    dup.columns = ["EGFR", "NF1", "egfr", "NF1"]  # case-insensitive duplicates
    path = tmp_path / "dup.tsv"
    dup.to_csv(path, sep="\t")
    with pytest.warns(UserWarning, match="2 duplicate gene symbol column"):
        data = read_expression_data(path)
    df = data.expression
    assert list(df.columns) == ["EGFR", "NF1"]
    np.testing.assert_allclose(df["EGFR"], (frame.iloc[:, 0] + frame.iloc[:, 2]) / 2, rtol=1e-6)
    np.testing.assert_allclose(df["NF1"], (frame.iloc[:, 1] + frame.iloc[:, 3]) / 2, rtol=1e-6)
    assert data.report["genes_dropped"]["duplicate (averaged)"] == 2
    assert data.report["n_genes_kept"] == 2


def test_missing_cells_imputed_only_when_asked(tmp_path, frame):
    frame.iloc[1, 2] = np.nan
    path = tmp_path / "nan.tsv"
    frame.to_csv(path, sep="\t")
    with pytest.warns(UserWarning, match="imputed 1 missing"):
        data = read_expression_data(path, impute="gene_mean")
    assert data.expression.iloc[1, 2] == pytest.approx(frame.iloc[[0, 2], 2].mean())
    assert data.report["n_cells_imputed"] == 1


def _clanc_text(frame: pd.DataFrame, subtypes: list[str]) -> str:
    header = "CLID\tGenes highly expressed in each subtype used for Gene Ontology\t"
    lines = [header + "\t".join(SAMPLES), "Subtype\tGO genes\t" + "\t".join(subtypes)]
    for (gene, row), code in zip(frame.T.iterrows(), ["CL", "", "MES", "PN"], strict=True):
        lines.append(f"{gene}\t{code}\t" + "\t".join(str(v) for v in row))
    return "\r\n".join(lines) + "\r\n"


def test_clanc840_layout_gives_expression_and_subtypes(tmp_path, frame):
    path = tmp_path / "clanc.txt"
    path.write_text(_clanc_text(frame, ["Proneural", "Neural", "Mesenchymal"]))
    data = read_expression_data(path)  # detected from the Subtype row
    assert data.report["format"] == "clanc840"
    _check(data.expression, frame)
    assert data.labels[CLANC_LABEL_COLUMN].to_dict() == dict(
        zip(PATIENTS, ["Proneural", "Neural", "Mesenchymal"], strict=True)
    )


def test_shipped_clanc840_matches_the_paper():
    data = read_expression_data(resolve_path("resource:TCGA_unified_CORE_ClaNC840.txt.gz"))
    assert data.expression.shape == (173, 840)
    assert data.labels[CLANC_LABEL_COLUMN].value_counts().to_dict() == {
        "Mesenchymal": 56,
        "Proneural": 53,
        "Classical": 38,
        "Neural": 26,
    }
    assert all(len(p) == 12 for p in data.expression.index)
    assert np.isfinite(data.expression.to_numpy()).all()
    assert data.report["quality"]["warnings"] == []  # centred log2 data: nothing to flag


@pytest.mark.skipif(not CLANC_SHARED.exists(), reason="../shared/data not present")
def test_shipped_clanc840_is_the_shared_file():
    shipped = read_expression_data("resource:TCGA_unified_CORE_ClaNC840.txt.gz")
    shared = read_expression_data(CLANC_SHARED)
    pd.testing.assert_frame_equal(shipped.expression, shared.expression)
    pd.testing.assert_frame_equal(shipped.labels, shared.labels)


@pytest.mark.skipif(not VASARI_SHARED.exists(), reason="../shared/data not present")
def test_real_vasari_table_keeps_category_strings():
    table = read_label_table(VASARI_SHARED)
    assert table.shape == (20, 10) and table.index[0] == "TCGA-08-0354"
    assert "n/a" in set(table["f10.t1.flair.ratio"])  # a category the trait drops, not a NaN
    assert table["comments"].iloc[0] is None  # empty cell -> missing


def test_label_table_formats(tmp_path):
    labels = pd.DataFrame({"subtype": ["Classical", "n/a", ""]}, index=SAMPLES)
    labels.to_csv(tmp_path / "l.tsv.gz", sep="\t")
    labels.to_parquet(tmp_path / "l.parquet")
    for name in ("l.tsv.gz", "l.parquet"):
        table = read_label_table(tmp_path / name)
        assert list(table.index) == PATIENTS
        assert table["subtype"].tolist() == ["Classical", "n/a", None]


def test_firehose_level3_layout_and_sample_type_filter(tmp_path, frame):
    """Hybridization REF header + 'Composite Element REF' line; a normal sample of one patient."""
    genes_x = frame.T
    genes_x["TCGA-02-0003-11A-01"] = 9.0  # solid normal of TCGA-02-0003
    lines = ["Hybridization REF\t" + "\t".join(genes_x.columns)]
    lines.append("Composite Element REF\t" + "\t".join(["Signal"] * genes_x.shape[1]))
    lines += [f"{g}\t" + "\t".join(str(v) for v in row) for g, row in genes_x.iterrows()]
    path = tmp_path / "firehose.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="'TCGA-02-0003' occurs more than once.*sample_type=01"):
        read_expression(path)
    data = read_expression_data(path, sample_type="01")
    _check(data.expression, frame)
    assert data.report["samples_dropped"] == {"sample type not 01": 1}


# ---------------------------------------------------------------- plausibility warnings


def _quality(tmp_path, frame: pd.DataFrame, caplog) -> tuple[dict, str]:
    path = tmp_path / "expr.tsv"
    frame.to_csv(path, sep="\t")
    with caplog.at_level(logging.WARNING, logger="radiogenomics.data.io"):
        report = read_expression_data(path).report["quality"]
    return report, " ".join(r.getMessage() for r in caplog.records)


def _log2_frame(n_patients: int = 8, n_genes: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.normal(8, 1.5, size=(n_patients, n_genes)),
        index=[f"TCGA-02-{i:04d}" for i in range(n_patients)],
        columns=[f"GENE{j}" for j in range(n_genes)],
    )


def test_log2_values_give_no_warning(tmp_path, caplog):
    report, logged = _quality(tmp_path, _log2_frame(), caplog)
    assert report["warnings"] == [] and logged == ""
    assert report["n_constant_genes"] == 0 and report["excel_date_symbols"] == []


def test_linear_scale_values_warn(tmp_path, caplog):
    frame = 2.0 ** _log2_frame()
    frame.iloc[0, 0] = -12.0  # background-subtracted intensity
    report, logged = _quality(tmp_path, frame, caplog)
    assert "look linear-scale" in logged and "log2(x + 1)" in logged
    assert "1 negative value(s)" in logged
    assert report["share_cells_over_100"] > 0.5 and len(report["warnings"]) == 1


def test_half_linear_half_log2_patients_warn(tmp_path, caplog):
    frame = _log2_frame()
    frame.iloc[:4] = 2.0 ** frame.iloc[:4]
    report, logged = _quality(tmp_path, frame, caplog)
    assert "different scales" in logged
    assert "4 have a median value > 100" in logged and "4 a median <= 20" in logged
    assert report["n_patients_median_over_100"] == 4


def test_excel_mangled_gene_symbols_warn(tmp_path, caplog):
    frame = _log2_frame()
    frame.columns = ["1-Mar", "9-Sep", "2-Sep", "1-Dec", *frame.columns[4:]]
    report, logged = _quality(tmp_path, frame, caplog)
    assert report["excel_date_symbols"] == ["1-Mar", "9-Sep", "2-Sep", "1-Dec"]
    assert "4 gene symbol(s) look turned into dates" in logged


@pytest.mark.parametrize(
    "n_constant, warned", [(20, "every gene"), (15, "15 of 20"), (5, "5 of 20"), (4, None)]
)
def test_mostly_constant_genes_warn(tmp_path, caplog, n_constant, warned):
    frame = _log2_frame()
    frame.iloc[:, :n_constant] = 7.0
    report, logged = _quality(tmp_path, frame, caplog)
    assert report["n_constant_genes"] == n_constant
    if warned:
        assert warned in logged and "same value for every patient" in logged
    else:
        assert logged == ""


# ------------------------------------------------------------------- GCT dimension lines


def _gct(tmp_path, dims: str, frame: pd.DataFrame, version: str = "#1.2") -> Path:
    lines = [version, dims, "Name\tDescription\t" + "\t".join(frame.index)]
    lines += [f"{g}\tna\t" + "\t".join(str(v) for v in row) for g, row in frame.T.iterrows()]
    path = tmp_path / "x.gct"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "dims, message",
    [
        ("4\t5", r"line 2 declares 4 rows x 5 columns, but the file holds 4 data rows x 3 sample"),
        ("1500\t3", r"line 2 declares 1500 rows x 3 columns, but the file holds 4 data rows"),
        ("four\tthree", r"line 2 is 'four\\tthree'; GCT 1\.2 expects 'rows<TAB>columns'"),
    ],
)
def test_gct_dimension_line_must_match_the_data(tmp_path, frame, dims, message):
    with pytest.raises(DataError, match=message):
        read_expression(_gct(tmp_path, dims, frame))


def test_gct_with_matching_dimensions_reads(tmp_path, frame):
    _check(read_expression(_gct(tmp_path, "4\t3", frame)), frame)


def test_values_beyond_float32_are_refused_with_file_patient_and_gene(tmp_path, frame):
    frame.iloc[1, 2] = -1e39
    path = tmp_path / "big.tsv"
    frame.to_csv(path, sep="\t")
    with pytest.raises(
        DataError,
        match=r"big\.tsv: value -1e\+39 at patient 'TCGA-06-0174', "
        r"gene 'NF1' is too large for float32",
    ):
        read_expression(path)


# issue 27: cells, ids and file kinds


def _tsv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(["sample\tEGFR\tNF1", *rows]) + "\n", encoding="utf-8")
    return path


def test_a_non_breaking_space_around_a_number_is_whitespace(tmp_path):
    path = _tsv(tmp_path / "e.tsv", ["P1\t1.5\u00a0\t2", "P2\t\u00a03\t4", "P3\t 5 \t6"])
    df = read_expression(path, orientation="patients_x_genes")
    np.testing.assert_allclose(df.to_numpy(), [[1.5, 2], [3, 4], [5, 6]])


@pytest.mark.parametrize("cell", ["1.5\x00", "1\x005", "\x00"])
def test_a_nul_in_a_numeric_cell_is_named_with_file_row_and_column(tmp_path, cell):
    path = _tsv(tmp_path / "e.tsv", ["P1\t1\t2", f"P2\t{cell}\t4", "P3\t5\t6"])
    with pytest.raises(DataError) as err:
        read_expression(path, orientation="patients_x_genes")
    message = str(err.value)
    assert "e.tsv: non-numeric value" in message and repr(cell) in message
    assert "line 3, row 'P2', column 'EGFR'" in message and "\n" not in message


def test_ids_of_digits_keep_their_leading_zeros(tmp_path):
    path = _tsv(tmp_path / "e.tsv", ["000\t1\t2", "007\t3\t4", "010\t5\t6"])
    expression = read_expression(path, orientation="patients_x_genes")
    assert list(expression.index) == ["000", "007", "010"]
    (tmp_path / "l.csv").write_text("patient,trait\n000,a\n007,b\n010,a\n")
    (tmp_path / "r.tsv").write_text("trait\tother\n000\ta\tx\n007\tb\ty\n")  # R: no id name
    for name in ("l.csv", "r.tsv"):
        labels = read_label_table(tmp_path / name)
        assert list(labels.index[:2]) == ["000", "007"] and labels.loc["007", "trait"] == "b"
    pd.DataFrame({"patient": ["000", "007"], "trait": ["a", "b"]}).to_parquet(tmp_path / "l.pq")
    assert list(read_label_table(tmp_path / "l.pq").index) == ["000", "007"]
    assert set(expression.index) >= set(read_label_table(tmp_path / "l.csv").index)  # they join


def test_a_repeated_label_column_is_refused_by_name(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("patient,grade,grade\nP1,a,b\nP2,b,a\n")
    with pytest.raises(DataError, match=r"l\.csv: column 'grade' appears more than once"):
        read_label_table(path)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_device_is_not_a_regular_file(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "e.tsv"
        os.mkfifo(path)  # opening it would block the reader
    else:
        path = Path("/dev/zero")  # reading it would never end
    for read in (read_expression, read_label_table):
        with pytest.raises(DataError, match=r": is not a regular file \(a FIFO, device or socket"):
            read(path)


def test_an_unreadable_file_says_permission_denied(tmp_path, monkeypatch):
    path = _tsv(tmp_path / "e.tsv", ["P1\t1\t2"])
    if os.geteuid() == 0:  # root reads anything: pretend the permission check failed
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != path)
    else:
        path.chmod(0)
    for read in (read_expression, read_label_table):
        with pytest.raises(DataError, match=r"e\.tsv: cannot read \(permission denied\)$"):
            read(path)
