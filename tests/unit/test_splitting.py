"""Placing scanned pages into copies: by codes in any order, by fixed count, or one file per copy."""
from viatique_xblock.scanning import splitting
from viatique_xblock.scanning.splitting import ScannedPage


def test_qr_pages_in_any_order_are_grouped_and_placed_by_their_codes():
    pages = [ScannedPage("a", ("V1", 2, 2)), ScannedPage("b", ("V1", 1, 1)),
             ScannedPage("c", ("V1", 2, 1)), ScannedPage("d", ("V1", 1, 2))]
    split = splitting.split_qr(pages, "V1")
    assert {(p.key, p.copy, p.position) for p in split.placements} == {
        ("a", 2, 2), ("b", 1, 1), ("c", 2, 1), ("d", 1, 2)}
    assert split.anomalies == [] and split.copies == [1, 2]


def test_qr_anomalies_are_reported_not_guessed():
    pages = [ScannedPage("a", ("V1", 1, 1)), ScannedPage("b", None), ScannedPage("c", ("V1", 1, 1)),
             ScannedPage("d", ("OTHER", 1, 2))]
    split = splitting.split_qr(pages, "V1")
    assert [(p.key, p.anomaly) for p in split.anomalies] == [("b", "no_code"), ("c", "duplicate"),
                                                               ("d", "other_exam")]


def test_qr_places_taken_by_an_earlier_scan_make_duplicates():
    split = splitting.split_qr([ScannedPage("x", ("V1", 3, 1)), ScannedPage("y", ("V1", 3, 2))], "V1",
                               taken={(3, 1)})
    assert [(p.key, p.anomaly) for p in split.placements] == [("x", "duplicate"), ("y", "")]


def test_fixed_mode_cuts_every_n_pages_and_the_short_last_copy_misses_pages():
    split = splitting.split_fixed([ScannedPage(i) for i in range(10)], 4)
    assert [(p.copy, p.position) for p in split.placements] == [
        (1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2), (2, 3), (2, 4), (3, 1), (3, 2)]
    assert splitting.missing_pages([1, 2], 4) == [3, 4]


def test_per_file_mode_makes_one_copy_of_any_length():
    split = splitting.split_per_file([ScannedPage(i) for i in range(7)], 1)
    assert split.copies == [1] and [p.position for p in split.placements] == list(range(1, 8))
    assert splitting.missing_pages(range(1, 8), 4) == []


def test_mode_choice():
    assert splitting.choose_mode([ScannedPage(1), ScannedPage(2, ("V1", 1, 1))]) == "qr"
    assert splitting.choose_mode([ScannedPage(1)]) == "fixed"
    assert splitting.choose_mode([ScannedPage(1, ("V1", 1, 1))], per_file=True) == "per_file"


def test_missing_pages_in_the_middle():
    assert splitting.missing_pages([1, 2, 4], 4) == [3]
    assert splitting.missing_pages([], 2) == [1, 2]
