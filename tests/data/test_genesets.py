"""Gene-set readers, shipped collections and indexing onto an expression matrix's genes."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from radiogenomics.data.genesets import (
    SHIPPED_COLLECTIONS,
    index_gene_sets,
    load_collection,
    load_gene_universe,
    read_gmt,
    read_puchalski,
    read_verhaak_signatures,
    write_gmt,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
VERHAAK_COUNTS = {
    "VERHAAK_PRONEURAL": 178,
    "VERHAAK_NEURAL": 129,
    "VERHAAK_CLASSICAL": 162,
    "VERHAAK_MESENCHYMAL": 216,
}


@pytest.fixture(scope="module")
def universe() -> list[str]:
    return load_gene_universe()


def test_universe_is_12042_unique_repaired_symbols(universe):
    assert len(universe) == 12042
    assert len({gene.upper() for gene in universe}) == 12042
    assert universe[:2] == ["RNF14", "UBE2Q1"]
    # R make.names / spreadsheet damage in the source list was repaired
    assert {"HLA-A", "NKX2-2", "SEPT9", "MARCH5", "RP11-35N6.1"} <= set(universe)
    assert not {"HLA.A", "X9.Sep"} & set(universe)


@pytest.mark.parametrize(
    ("name", "n_sets"),
    [("hallmark", 50), ("c1", 326), ("verhaak", 4), ("puchalski", 21), ("cahoy", 4)],
)
def test_shipped_collections_load(name, n_sets):
    sets = load_collection(name)
    assert len(sets) == n_sets
    for genes in sets.values():
        assert genes and len(genes) == len(set(genes))
        assert all(gene == gene.strip().upper() for gene in genes)
    assert set(SHIPPED_COLLECTIONS) == {"hallmark", "c1", "verhaak", "puchalski", "cahoy"}


def test_shipped_verhaak_matches_paper_counts():
    sets = load_collection("verhaak")
    assert {name: len(genes) for name, genes in sets.items()} == VERHAAK_COUNTS
    assert list(sets) == list(VERHAAK_COUNTS)


def test_shipped_puchalski_skips_na_row():
    sets = load_collection("puchalski")
    assert sets["Barres_endothelial"][0] == "CD34"
    assert all("NA" not in genes for genes in sets.values())
    assert len(sets["Patel_cellcycle"]) == 11


def test_collections_cover_the_u133a_universe(universe):
    minimum_pooled = {"hallmark": 0.85, "verhaak": 1.0, "puchalski": 0.7}
    for name, minimum in minimum_pooled.items():
        report = index_gene_sets(load_collection(name), universe, collection=name).coverage
        pooled = report["n_on_array"].sum() / report["n_genes"].sum()
        assert pooled >= minimum, name
        assert (report["status"] == "kept").all(), name


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data not present")
def test_verhaak_reader_reproduces_shipped_file():
    path = SHARED_DATA / "novasmedley_deepRadiogenomics" / "TCGA_unified_CORE_ClaNC840.txt"
    assert read_verhaak_signatures(path) == load_collection("verhaak")


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data not present")
def test_puchalski_by_path_equals_shipped():
    path = (
        SHARED_DATA
        / "novasmedley_deepRadiogenomics"
        / "gene_sets_Puchalski"
        / "aaf2666_Table-S15.csv"
    )
    assert load_collection(str(path)) == load_collection("puchalski")


def test_verhaak_reader_on_toy_file(tmp_path):
    path = tmp_path / "clanc.txt"
    path.write_text(
        "CLID\tGO\tS1\tS2\nSubtype\tGO genes\tProneural\tClassical\n"
        "dll3\tPN\t1\t2\nEGFR\tCL\t1\t2\nX1\t\t0\t0\nCHI3L1\tMES\t1\t1\nGABRA1\tNL\t0\t1\n"
    )
    sets = read_verhaak_signatures(path)
    assert sets == {
        "VERHAAK_PRONEURAL": ["DLL3"],
        "VERHAAK_NEURAL": ["GABRA1"],
        "VERHAAK_CLASSICAL": ["EGFR"],
        "VERHAAK_MESENCHYMAL": ["CHI3L1"],
    }
    path.write_text(path.read_text().replace("EGFR\tCL", "EGFR\tXX"))
    with pytest.raises(ValueError, match=r"clanc\.txt:4: unknown signature code 'XX'"):
        read_verhaak_signatures(path)


def test_read_gmt_cleans_symbols_and_skips_blank_lines(tmp_path):
    path = tmp_path / "custom.gmt"
    path.write_text("A\tdesc\t tp53 \tEGFR\tegfr\t\n\n   \nB\t\tMYC\n")
    assert read_gmt(path) == {"A": ["TP53", "EGFR"], "B": ["MYC"]}
    assert load_collection(str(path)) == read_gmt(path)


def test_read_gmt_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.gmt"
    path.write_text("A\tdesc\tTP53\n\nB desc MYC\n")
    with pytest.raises(ValueError, match=r"bad\.gmt:3: .*found 1 field"):
        read_gmt(path)


def test_read_gmt_rejects_repeated_set_and_empty_set(tmp_path):
    path = tmp_path / "dup.gmt"
    path.write_text("A\td\tTP53\nA\td\tMYC\n")
    with pytest.raises(ValueError, match=r"dup\.gmt:2: set 'A' repeats the set of line 1"):
        read_gmt(path)
    path.write_text("A\td\t \t\n")
    with pytest.raises(ValueError, match=r"dup\.gmt:1: set 'A' lists no genes"):
        read_gmt(path)


def test_gzipped_gmt_round_trip(tmp_path):
    sets = {"S1": ["TP53", "EGFR"], "S2": ["MYC"]}
    path = tmp_path / "sets.gmt.gz"
    write_gmt(sets, path, description="toy")
    assert gzip.decompress(path.read_bytes()).startswith(b"S1\ttoy\tTP53\tEGFR\n")
    assert load_collection(path) == sets


def test_read_puchalski_ragged_columns(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("cells_a,cells_b\nna,na\negfr,SOX2\nPDGFRA,\n,\n")
    assert read_puchalski(path) == {"cells_a": ["EGFR", "PDGFRA"], "cells_b": ["SOX2"]}
    path.write_text("cells_a,cells_b\nna,na\nEGFR,\n")
    with pytest.raises(ValueError, match=r"wide\.csv: set\(s\) cells_b list no genes"):
        read_puchalski(path)


def test_unknown_collection_lists_shipped_names():
    with pytest.raises(ValueError, match="hallmark, c1, verhaak, puchalski, cahoy"):
        load_collection("kegg")


def test_missing_file_names_it(tmp_path):
    missing = tmp_path / "nope.gmt"
    with pytest.raises(FileNotFoundError, match="nope.gmt"):
        load_collection(str(missing))


def test_unsupported_suffix_is_rejected(tmp_path):
    path = tmp_path / "sets.tsv"
    path.write_text("A\td\tTP53\n")
    with pytest.raises(ValueError, match=r"sets\.tsv.*\.gmt, \.gmt\.gz or \.csv"):
        load_collection(str(path))


def test_index_gene_sets_maps_case_insensitively():
    genes = ["TP53", "egfr", "Myc", "PTEN", "IDH1"]
    sets = {"A": ["MYC", "tp53"], "B": ["EGFR", "IDH1", "PTEN"]}
    indexed = index_gene_sets(sets, genes)
    assert indexed.names == ["A", "B"]
    assert [idx.tolist() for idx in indexed.indices] == [[0, 2], [1, 3, 4]]
    assert all(idx.dtype == np.int64 for idx in indexed.indices)
    assert indexed.coverage["status"].tolist() == ["kept", "kept"]


def test_index_gene_sets_reports_and_skips():
    genes = [f"G{i}" for i in range(10)]
    sets = {
        "half": ["G0", "G1", "X1", "X2"],
        "low": ["G2", "X3", "X4", "X5", "X6"],
        "big": [f"G{i}" for i in range(6)],
        "none": ["X7", "X8"],
        "tiny": ["G9", "X9"],
    }
    indexed = index_gene_sets(sets, genes, min_coverage=0.5, min_size=2, max_size=5)
    report = indexed.coverage.set_index("set")
    assert indexed.names == ["half"]
    assert report.loc["half", "coverage"] == pytest.approx(0.5)
    assert report.loc["low", "status"] == "skipped: coverage 0.20 < min 0.5"
    assert report.loc["big", "status"] == "skipped: size 6 > max 5"
    assert report.loc["none", "status"] == "skipped: no genes on the array"
    assert report.loc["tiny", "status"] == "skipped: size 1 < min 2"
    assert report["n_genes"].tolist() == [4, 5, 6, 2, 2]
    assert report["n_on_array"].tolist() == [2, 1, 6, 0, 1]


def test_index_gene_sets_raises_on_zero_overlap():
    with pytest.raises(ValueError, match="gene-set file hallmark has zero genes on the array"):
        index_gene_sets({"A": ["TP53"]}, ["ENSG00000141510"], collection="hallmark")


def test_index_gene_sets_raises_when_filters_skip_everything():
    with pytest.raises(ValueError, match="every gene set was skipped"):
        index_gene_sets({"A": ["TP53", "X"]}, ["TP53"], min_coverage=0.9)


def test_index_gene_sets_rejects_duplicate_array_genes():
    with pytest.raises(ValueError, match="repeats 1 symbol"):
        index_gene_sets({"A": ["TP53"]}, ["TP53", "tp53"])


def test_unreadable_file_error_names_it(tmp_path):
    path = tmp_path / "latin1.gmt"
    path.write_bytes("A\td\tG\xe9NE\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"cannot read .*latin1\.gmt: not UTF-8"):
        read_gmt(path)
    truncated = tmp_path / "cut.gmt.gz"
    truncated.write_bytes(gzip.compress(b"A\td\tTP53\n" * 100)[:40])
    with pytest.raises(ValueError, match=r"cut\.gmt\.gz"):
        read_gmt(truncated)
