-- one row per account per week: support, voice-of-customer and CSM signals as of week_end
with
    weeks as (select * from int_account_weeks),
    tickets as (select * from stg_tickets),
    touchpoints as (select * from stg_touchpoints),
    params as (select * from params),
    open_at as (
        select
            w.account_id,
            w.week_end,
            count(*) as open_tickets,
            count(*) filter (where t.priority = 'urgent') as urgent_open,
            count(*) filter (where t.priority in ('high', 'urgent')) as high_open
        from weeks as w
        join tickets as t
            on t.account_id = w.account_id
            and t.opened_at < w.week_end + 1
            and (t.closed_at is null or t.closed_at >= w.week_end + 1)
        group by all
    ),
    closed as (
        select
            t.account_id,
            week_end(t.closed_at::date, p.as_of) as week_end,
            sum(t.csat) as csat_sum,
            count(t.csat) as csat_n
        from tickets as t, params as p
        where t.closed_at is not null
        group by all
    ),
    touches as (
        select
            t.account_id,
            week_end(t.occurred_at::date, p.as_of) as week_end,
            arg_max(t.sentiment, t.occurred_at) filter (where t.sentiment is not null) as sentiment,
            max(t.occurred_at)::date as last_touch
        from touchpoints as t, params as p
        group by all
    )
select
    w.account_id,
    w.week_end,
    coalesce(o.open_tickets, 0) as open_tickets,
    coalesce(o.urgent_open, 0) as urgent_open,
    coalesce(o.high_open, 0) as high_open,
    sum(w.tickets_opened) over w4 as tickets_28d,
    sum(w.tickets_opened) over w12 as tickets_84d,
    sum(w.urgent_opened) over w12 as high_tickets_84d,
    sum(c.csat_sum) over w12 / nullif(sum(c.csat_n) over w12, 0) as csat_84d,
    -- NPS waves come about twice a year: the latest half-year against the one before
    sum(w.nps_avg * w.nps_answers) over w26 / nullif(sum(w.nps_answers) over w26, 0) as nps_latest,
    sum(w.nps_avg * w.nps_answers) over prev26 / nullif(sum(w.nps_answers) over prev26, 0)
        as nps_previous,
    last_value(h.sentiment ignore nulls) over wall as sentiment_latest,
    max(h.last_touch) over wall as last_touch,
    sum(w.red) over w12 as red_touches_84d,
    sum(w.touchpoints) over w12 as touches_84d
from weeks as w
left join open_at as o using (account_id, week_end)
left join closed as c using (account_id, week_end)
left join touches as h using (account_id, week_end)
window
    wall as (partition by w.account_id order by w.week_end rows unbounded preceding),
    w4 as (partition by w.account_id order by w.week_end rows between 3 preceding and current row),
    w12 as (partition by w.account_id order by w.week_end rows between 11 preceding and current row),
    w26 as (partition by w.account_id order by w.week_end rows between 25 preceding and current row),
    prev26 as (
        partition by w.account_id order by w.week_end rows between 51 preceding and 26 preceding
    )
