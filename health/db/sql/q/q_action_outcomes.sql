-- one row per trigger episode (action) with a start: done or not, its assignment, risk band and segment then, and what followed (null until observable)
-- `done_actions` (action_id, marked_on) is registered by the caller from the action log. The
-- start is the day the action reached a list or was held out, else the day it triggered.
with
    params as (select * from params),
    actions as (select * from mart_actions),
    done as (select * from done_actions),
    accounts as (select * from stg_accounts),
    history as (
        select account_id, week_end, health_score, churn_risk
        from mart_health_history
        where week_end <= (select as_of from params)
    ),
    contracts as (
        select account_id, week_end, mrr, seats
        from mart_account_features
        where week_end <= (select as_of from params)
    ),
    starts as (
        select
            a.action_id,
            a.account_id,
            a.reason_kind,
            a.reason,
            a.state,
            a.assignment,
            d.action_id is not null as done,
            coalesce(a.surfaced_on, a.triggered_on) as start_on,
            coalesce(c.segment, 'Unknown') as segment,
            c.churn_date
        from actions as a
        left join done as d using (action_id)
        join accounts as c using (account_id)
        -- a duplicate or covered action is a second row for one trigger: it would count twice
        where a.state not in ('duplicate', 'covered')
    ),
    -- The weeks each episode is read at: the last scored week on or before its start, the
    -- first at least 4 and 12 weeks after that one, the last contract week on or before it.
    -- An account has about a year of weekly rows, so an equi-join on the account and a min or
    -- max is a few hundred thousand pairs; DuckDB's ASOF join took 1.5 s each here at 10,000
    -- accounts (it sorts every account's history). (account_id, week_end) is unique in both.
    w0 as (
        select s.action_id, max(h.week_end) as w0
        from starts as s
        join history as h on h.account_id = s.account_id and h.week_end <= s.start_on
        group by s.action_id
    ),
    at_start as (
        select s.*, h.health_score as health_then, h.churn_risk as risk_then, w.w0
        from starts as s
        join w0 as w on w.action_id = s.action_id
        join history as h on h.account_id = s.account_id and h.week_end = w.w0
    ),
    later as (
        select
            s.action_id,
            min(h.week_end) filter (where h.week_end >= s.w0 + 28) as w4,
            min(h.week_end) filter (where h.week_end >= s.w0 + 84) as w12
        from at_start as s
        join history as h on h.account_id = s.account_id and h.week_end >= s.w0 + 28
        group by s.action_id
    ),
    after_12w as (
        select s.*, h4.health_score as health_4w, l.w4, h12.health_score as health_12w, l.w12
        from at_start as s
        left join later as l on l.action_id = s.action_id
        left join history as h4 on h4.account_id = s.account_id and h4.week_end = l.w4
        left join history as h12 on h12.account_id = s.account_id and h12.week_end = l.w12
    ),
    contract_week as (
        select s.action_id, max(k.week_end) as week_end
        from at_start as s
        join contracts as k on k.account_id = s.account_id and k.week_end <= s.start_on
        group by s.action_id
    ),
    contract_then as (
        select s.action_id, k.mrr as mrr_then, k.seats as seats_then
        from at_start as s
        left join contract_week as c on c.action_id = s.action_id
        left join contracts as k on k.account_id = s.account_id and k.week_end = c.week_end
    ),
    contract_after as (
        select
            s.action_id,
            max(k.mrr) as mrr_max,
            max(k.seats) as seats_max
        from at_start as s
        join contracts as k
            on k.account_id = s.account_id
            and k.week_end > s.start_on
            and k.week_end <= s.start_on + 180
        group by s.action_id
    )
select
    s.action_id,
    s.account_id,
    s.reason_kind,
    s.reason,
    s.state,
    s.assignment,
    s.done,
    s.start_on,
    s.segment,
    case
        when s.risk_then is null then 'unscored'
        when s.risk_then < 0.1 then 'under 10 %'
        when s.risk_then < 0.3 then '10 to 30 %'
        else '30 % and over'
    end as risk_band,
    -- a week more than 6 days past the mark is another week's score: not observed yet
    case when s.w4 <= s.w0 + 34 then s.health_4w - s.health_then end as health_change_4w,
    case when s.w12 <= s.w0 + 90 then s.health_12w - s.health_then end as health_change_12w,
    case
        when s.churn_date > s.start_on and s.churn_date <= s.start_on + 180 then 1.0
        when s.start_on + 180 <= p.as_of then 0.0
    end as churned_180d,
    case
        when a.mrr_max > t.mrr_then or a.seats_max > t.seats_then then 1.0
        when t.mrr_then is null and t.seats_then is null then null
        when s.start_on + 180 <= p.as_of then 0.0
    end as expanded_180d
from after_12w as s
cross join params as p
left join contract_then as t using (action_id)
left join contract_after as a using (action_id)
