"""Scheduling's rules (SPEC §2), pure: no I/O, no clock reads. One module per concept:

- `policy`: the visit kinds and the policy's knobs;
- `model`: a customer's facts, the state they fold into (`evolve`) and the policy's view of it;
- `schedule`: what only depends on a delivery date or a year, worked out once (`PlanMemo`);
- `candidates`: every visit each rule asks for, before merging;
- `plan`: merging, the rolling horizon, retries: a customer's open plan;
- `reconcile`: the stored plan made equal to the policy's, deadlines recomputed;
- `views`: the shapes the API shows.
"""
