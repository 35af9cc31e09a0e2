-- one row per active account: what is at stake, its health and trend, top driver, newest moment
with
    overview as (select * from mart_account_overview where is_active),
    health as (select * from mart_account_health),
    history as (select * from mart_health_history),
    moments as (select * from moments),
    params as (select * from params),
    trend as (
        select h.account_id, list(h.health_score order by h.week_end) as health_trend
        from history as h, params as p
        where h.week_end > p.as_of - 84
        group by all
    ),
    newest_moment as (
        select m.account_id,
            arg_max(m.kind, m.detected_on) as newest_moment_kind,
            arg_max(m.moment, m.detected_on) as newest_moment,
            max(m.detected_on) as newest_moment_on
        from moments as m, params as p
        where m.detected_on <= p.as_of
        group by all
    )
select
    o.account_id, o.name, o.segment, o.plan, o.region, o.csm_owner, o.arr,
    h.health_score, h.churn_risk, h.tier,
    t.health_trend,
    split_part(h.drivers, '; ', 1) as top_driver,
    h.drivers,
    date_diff('day', p.as_of, o.renewal_date) as renewal_in_days,
    -- At stake: ARR x churn risk, up to doubled as the renewal nears (same horizon as actions).
    coalesce(o.arr, 0) * coalesce(h.churn_risk, 0)
        * (1 + greatest(0, 1 - coalesce(date_diff('day', p.as_of, o.renewal_date), 9999) / 180))
        as at_stake,
    nm.newest_moment, nm.newest_moment_kind, nm.newest_moment_on
from overview as o
cross join params as p
left join health as h using (account_id)
left join trend as t using (account_id)
left join newest_moment as nm using (account_id)
order by at_stake desc, o.arr desc nulls last
