-- one row per account with a user active in the last days: its DAU/MAU over them
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    user_days as (select * from int_user_days),
    -- The accounts asked for, each with the value it is grouped by ('All' without a breakdown).
    scope as (
        select
            a.*,
            case $by
                when 'segment' then a.segment when 'plan' then a.plan
                when 'industry' then a.industry when 'region' then a.region
                when 'csm_owner' then a.csm_owner else 'All'
            end as "group"
        from accounts as a
        where ($segments::varchar[] is null or list_contains($segments::varchar[], a.segment))
          and ($account_ids::varchar[] is null
               or list_contains($account_ids::varchar[], a.account_id))
    ),
    recent as (
        select s."group", s.name, d.account_id, d.user_id, d.day
        from user_days as d
        join scope as s using (account_id)
        cross join params as p
        where d.day > p.as_of - $days::integer
    )
select
    "group",
    account_id,
    name,
    $days::integer as days,
    count(distinct day) as active_days,
    count(*) / $days::integer as avg_dau,
    count(distinct user_id) as mau,
    avg_dau / mau as dau_mau
from recent
group by all
order by "group", dau_mau desc, account_id
