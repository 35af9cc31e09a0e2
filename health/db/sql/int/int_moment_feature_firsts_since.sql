-- one row per account per event first used after params.rebuild_from - 28, or of an account signed up since: the rows of int_moment_feature_firsts a refresh computes again (read beside its kept rows, before they are replaced)
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    -- An event first used 28 days or more before rebuild_from is in the kept rows (the last
    -- refresh saw its first day); any other has no day before then: its days are recent ones.
    known as (
        select f.account_id, f.event
        from int_moment_feature_firsts as f, params as p
        where f.first_day <= p.rebuild_from - 28
    ),
    signed_since as (
        select a.account_id from accounts as a, params as p where a.signup_date >= p.rebuild_from
    ),
    -- every day of the events computed again: the recent days of the events not known, and
    -- every day of the accounts signed up since
    event_days as (
        select e.*
        from int_event_days as e, params as p
        where e.day > p.rebuild_from - 28
            and (
                (e.account_id, e.event) not in (select (account_id, event) from known)
                or e.account_id in (select account_id from signed_since)
            )
        union all
        select e.*
        from int_event_days as e, params as p
        where e.day <= p.rebuild_from - 28
            and e.account_id in (select account_id from signed_since)
    ),
    firsts as (
        select account_id, event, any_value(feature) as feature, min(day) as first_day
        from event_days
        group by account_id, event
    ),
    after as (
        select f.account_id, f.event,
            coalesce(sum(e.events) filter (where e.day < f.first_day + 7), 0)::BIGINT as events_w0,
            coalesce(sum(e.events) filter (where e.day >= f.first_day + 7 and e.day < f.first_day + 14), 0)::BIGINT as events_w1,
            coalesce(sum(e.events) filter (where e.day >= f.first_day + 14 and e.day < f.first_day + 21), 0)::BIGINT as events_w2,
            coalesce(sum(e.events) filter (where e.day >= f.first_day + 21), 0)::BIGINT as events_w3
        from firsts as f
        join event_days as e using (account_id, event)
        where e.day < f.first_day + 28
        group by all
    )
select
    f.account_id,
    f.event,
    f.feature,
    f.first_day,
    date_diff('day', a.signup_date, f.first_day) as age_days,
    x.events_w0,
    x.events_w1,
    x.events_w2,
    x.events_w3
from firsts as f
join accounts as a using (account_id)
join after as x using (account_id, event)
