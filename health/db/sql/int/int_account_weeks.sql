-- one row per account per calendar week (the last one partial, to the as-of date): product usage, support, voice of customer and CSM touchpoints
with
    -- the weeks a refresh computes (params.rebuild_from on; the earlier are kept)
    weeks as (select * from int_weeks where week_end >= (select rebuild_from from params)),
    params as (select * from params),
    days as (select * from int_account_days),
    user_days as (select * from int_user_days),
    feature_weeks as (select * from int_feature_weeks),
    tickets as (select * from stg_tickets),
    surveys as (select * from stg_surveys),
    touchpoints as (select * from stg_touchpoints),
    usage as (
        select d.account_id, week_end(d.day, p.as_of) as week_end,
            sum(d.events) as events, count(*) as active_days, sum(d.value) as value
        from days as d, params as p where d.day >= p.rebuild_from group by all
    ),
    users as (
        select u.account_id, week_end(u.day, p.as_of) as week_end,
            count(distinct u.user_id) as active_users
        from user_days as u, params as p where u.day >= p.rebuild_from group by all
    ),
    features as (
        select f.account_id, f.week_end, count(*) as features_used
        from feature_weeks as f, params as p
        where f.week_end >= p.rebuild_from
        group by all
    ),
    support as (
        select t.account_id, week_end(t.opened_at::date, p.as_of) as week_end,
            count(*) as tickets_opened,
            count(*) filter (where t.priority in ('high', 'urgent')) as urgent_opened
        from tickets as t, params as p where t.opened_at >= p.rebuild_from group by all
    ),
    voice as (
        select s.account_id, week_end(s.responded_at::date, p.as_of) as week_end,
            count(*) as nps_answers, avg(s.score) as nps_avg
        from surveys as s, params as p where s.responded_at >= p.rebuild_from group by all
    ),
    cs as (
        select t.account_id, week_end(t.occurred_at::date, p.as_of) as week_end,
            count(*) as touchpoints,
            count(*) filter (where t.sentiment = 'green') as green,
            count(*) filter (where t.sentiment = 'yellow') as yellow,
            count(*) filter (where t.sentiment = 'red') as red
        from touchpoints as t, params as p where t.occurred_at >= p.rebuild_from group by all
    )
select
    w.account_id,
    w.week_end,
    w.age_weeks,
    w.days_in_week,
    w.is_partial,
    coalesce(u.events, 0) as events,
    coalesce(u.active_days, 0) as active_days,
    coalesce(au.active_users, 0) as active_users,
    coalesce(f.features_used, 0) as features_used,
    u.value,
    coalesce(s.tickets_opened, 0) as tickets_opened,
    coalesce(s.urgent_opened, 0) as urgent_opened,
    coalesce(v.nps_answers, 0) as nps_answers,
    v.nps_avg,
    coalesce(c.touchpoints, 0) as touchpoints,
    coalesce(c.green, 0) as green,
    coalesce(c.yellow, 0) as yellow,
    coalesce(c.red, 0) as red
from weeks as w
left join usage as u using (account_id, week_end)
left join users as au using (account_id, week_end)
left join features as f using (account_id, week_end)
left join support as s using (account_id, week_end)
left join voice as v using (account_id, week_end)
left join cs as c using (account_id, week_end)
