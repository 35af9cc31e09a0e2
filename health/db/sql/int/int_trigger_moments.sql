-- one row per moment detected up to the as-of date (account, kind, start): a trigger episode
-- Same columns in every int_trigger_* file; int_action_triggers.sql stacks them.
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    moments as (select * from moments),
    from_moments as (
        select
            m.account_id,
            m.moment as reason_kind,
            m.kind as reason,
            coalesce(m.started_on, m.detected_on) as started_on,
            m.detected_on as triggered_on,
            coalesce(m.severity, 0.5) as severity,
            m.evidence,
            a.churn_date is null and m.detected_on > p.as_of - $moment_max_age_days as active
        from moments as m
        join accounts as a using (account_id)
        cross join params as p
        where m.detected_on <= p.as_of
    )
select * from from_moments
