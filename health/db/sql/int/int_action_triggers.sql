-- one row per trigger episode (account, reason, started_on): every moment up to the as-of date, and every risk signal that holds at it
-- A risk episode's started_on is a calendar fact (a ticket opened, a last activity, a renewal
-- date, a Monday) that does not move while the signal holds, whatever day the refresh runs:
-- the action's id is made from it, so one episode is one action.
with
    everything as (
        select * from int_trigger_moments
        union all by name select * from int_trigger_renewal
        union all by name select * from int_trigger_decline
        union all by name select * from int_trigger_urgent
        union all by name select * from int_trigger_champion
        union all by name select * from int_trigger_detractor
        union all by name select * from int_trigger_untouched
    )
select
    account_id,
    reason_kind,
    reason,
    started_on,
    triggered_on,
    round(severity, 3)::double as severity,
    evidence,
    active
from everything
-- one moment kind can be detected twice with one start: one episode, its first detection
qualify row_number() over (
    partition by account_id, reason, started_on order by triggered_on, evidence
) = 1
