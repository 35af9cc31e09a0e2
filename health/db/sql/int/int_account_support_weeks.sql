-- one row per account per calendar week (the last to the as-of date): support, voice-of-customer and CSM signals as of week_end
with
    params as (select * from params),
    all_weeks as (select account_id, week_end from int_account_weeks),
    -- The weeks a refresh computes (params.rebuild_from on; the earlier are kept) and the
    -- 51 before them that their windows reach.
    weeks as (
        select * from int_account_weeks
        where week_end >= (select rebuild_from - 364 from params)
    ),
    first_row as (select account_id, min(week_end) as w0 from weeks group by all),
    tickets as (select * from stg_tickets),
    touchpoints as (select * from stg_touchpoints),
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
    -- the latest touch by each week; the ones before the weeks read count in the first of them
    touches as (
        select
            t.account_id,
            greatest(t.week_end, r.w0) as week_end,
            arg_max(t.sentiment, t.occurred_at) filter (where t.sentiment is not null) as sentiment,
            max(t.occurred_at)::date as last_touch
        from (
            select *, week_end(occurred_at::date, (select as_of from params)) as week_end
            from touchpoints
        ) as t
        semi join all_weeks as w on w.account_id = t.account_id and w.week_end = t.week_end
        join first_row as r on r.account_id = t.account_id
        group by all
    ),
    -- The as-of date's windows: exactly the 28, 84 and 182 days to it, from the dated rows
    -- (a Sunday's are its calendar week and the ones before, summed over the weekly rows,
    -- which start at the signup's week).
    since as (
        select account_id, date_trunc('week', signup_date)::timestamp as first_day
        from stg_accounts
    ),
    tickets_now as (
        select
            t.account_id,
            count(*) filter (where t.opened_at::date > p.as_of - 28) as tickets_28d,
            count(*) as tickets_84d,
            count(*) filter (where t.priority in ('high', 'urgent')) as high_tickets_84d
        from tickets as t, params as p, since as a
        where t.opened_at::date > p.as_of - 84 and t.opened_at::date <= p.as_of
            and a.account_id = t.account_id and t.opened_at >= a.first_day
        group by all
    ),
    csat_now as (
        select t.account_id, sum(t.csat) / nullif(count(t.csat), 0) as csat_84d
        from tickets as t, params as p, since as a
        where t.closed_at::date > p.as_of - 84 and t.closed_at::date <= p.as_of
            and a.account_id = t.account_id and t.closed_at >= a.first_day
        group by all
    ),
    voice_now as (
        select
            s.account_id,
            avg(s.score) filter (where s.responded_at::date > p.as_of - 182) as nps_latest,
            avg(s.score) filter (where s.responded_at::date <= p.as_of - 182) as nps_previous
        from stg_surveys as s, params as p, since as a
        where s.responded_at::date > p.as_of - 364 and s.responded_at::date <= p.as_of
            and a.account_id = s.account_id and s.responded_at >= a.first_day
        group by all
    ),
    touches_now as (
        select
            t.account_id,
            count(*) filter (where t.sentiment = 'red') as red_touches_84d,
            count(*) as touches_84d
        from touchpoints as t, params as p, since as a
        where t.occurred_at::date > p.as_of - 84 and t.occurred_at::date <= p.as_of
            and a.account_id = t.account_id and t.occurred_at >= a.first_day
        group by all
    ),
    windows as (
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
    )
select
    w.account_id,
    w.week_end,
    w.open_tickets,
    w.urgent_open,
    w.high_open,
    case when now then coalesce(k.tickets_28d, 0) else w.tickets_28d end as tickets_28d,
    case when now then coalesce(k.tickets_84d, 0) else w.tickets_84d end as tickets_84d,
    case when now then coalesce(k.high_tickets_84d, 0) else w.high_tickets_84d end
        as high_tickets_84d,
    case when now then c.csat_84d else w.csat_84d end as csat_84d,
    case when now then v.nps_latest else w.nps_latest end as nps_latest,
    case when now then v.nps_previous else w.nps_previous end as nps_previous,
    w.sentiment_latest,
    w.last_touch,
    case when now then coalesce(t.red_touches_84d, 0) else w.red_touches_84d end
        as red_touches_84d,
    case when now then coalesce(t.touches_84d, 0) else w.touches_84d end as touches_84d
from (select *, week_end = (select as_of from params) as now from windows) as w
left join tickets_now as k using (account_id)
left join csat_now as c using (account_id)
left join voice_now as v using (account_id)
left join touches_now as t using (account_id)
