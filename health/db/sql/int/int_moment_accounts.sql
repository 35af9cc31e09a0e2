-- one row per account: what peers are compared on (segment, size at signup) and its life span
with
    accounts as (select * from stg_accounts),
    subscriptions as (select * from stg_subscriptions),
    users as (select * from stg_users),
    first_seats as (
        select account_id, arg_min(seats, start_date) as seats from subscriptions group by all
    ),
    invited as (
        select u.account_id, count(*) as invited
        from users as u join accounts as a using (account_id)
        where u.created_at is null or u.created_at::date < a.signup_date + 21
        group by all
    )
select
    a.account_id,
    a.name,
    a.segment,
    a.signup_date,
    a.churn_date,
    coalesce(s.seats, i.invited)::DOUBLE as size,
    case when s.seats is not null then 'seat' when i.invited is not null then 'invited user' end
        as size_unit
from accounts as a
left join first_seats as s using (account_id)
left join invited as i using (account_id)
