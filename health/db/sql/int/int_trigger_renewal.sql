-- one row per active account in the at-risk tier whose renewal is within renewal_days: a trigger episode
-- Same columns in every int_trigger_* file; int_action_triggers.sql stacks them.
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    health as (select * from mart_account_health),
    history as (select * from mart_health_history),
    live as (select * from accounts where churn_date is null),
    -- renewal_at_risk: at-risk tier with the renewal close; one episode per renewal date
    last_not_at_risk as (
        select account_id, max(week_end) as week_end
        from history where tier <> 'at_risk' group by all
    ),
    at_risk_since as (
        select h.account_id, min(h.week_end) as since
        from history as h
        left join last_not_at_risk as n using (account_id)
        where h.tier = 'at_risk' and (n.week_end is null or h.week_end > n.week_end)
        group by all
    ),
    renewal as (
        select
            a.account_id,
            'risk' as reason_kind,
            'renewal_at_risk' as reason,
            (a.renewal_date - $renewal_days::integer)::date as started_on,
            greatest(a.renewal_date - $renewal_days::integer, coalesce(s.since, p.as_of))::date
                as triggered_on,
            least(greatest(coalesce(h.churn_risk, 0.5), 0), 1) as severity,
            format(
                'health tier at risk (churn risk {:d} %) with the renewal on {}, in {:d} days',
                round(100 * coalesce(h.churn_risk, 0))::integer,
                strftime(a.renewal_date, '%-d %b %Y'),
                date_diff('day', p.as_of, a.renewal_date)
            ) as evidence,
            true as active
        from live as a
        join health as h using (account_id)
        left join at_risk_since as s using (account_id)
        cross join params as p
        where h.tier = 'at_risk'
            and a.renewal_date between p.as_of and p.as_of + $renewal_days::integer
    )
select * from renewal
