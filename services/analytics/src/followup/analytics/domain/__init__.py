"""Analytics' pure domain (SPEC §5), by concept: facts and their records, the state and its
fold (model), periods and groups, visit and issue KPIs, churn risk, the monthly report and the
API's views. No I/O and no clock: the period and `as_of`, the instant an answer is for, are
passed in."""
