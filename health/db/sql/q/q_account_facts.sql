-- one row: the header facts of one account
with
    overview as (select * from mart_account_overview where account_id = $account_id),
    health as (select * from mart_account_health where account_id = $account_id),
    stage as (select * from mart_account_stage where account_id = $account_id),
    champion as (
        select u.name, u.email, u.title, u.deactivated_at,
            (select max(d.day) from int_user_days as d where d.user_id = u.user_id) as last_active_on
        from stg_users as u
        where u.account_id = $account_id and u.is_champion
        order by u.deactivated_at nulls first, u.created_at desc
        limit 1
    ),
    params as (select * from params)
select
    o.*,
    h.health_score,
    h.churn_risk,
    h.score_source,
    h.tier,
    h.drivers,
    s.stage,
    date_diff('day', p.as_of, o.renewal_date) as renewal_in_days,
    c.name as champion_name,
    c.email as champion_email,
    c.title as champion_title,
    c.deactivated_at as champion_deactivated_at,
    c.last_active_on as champion_last_active_on,
    p.as_of
from overview as o
cross join params as p
left join health as h using (account_id)
left join stage as s using (account_id)
left join champion as c on true
