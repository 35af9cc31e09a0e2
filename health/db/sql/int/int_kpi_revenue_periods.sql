-- one row per account per revenue period (ends inclusive, null = open): its MRR and source
with
    subscriptions as (select * from stg_subscriptions),
    accounts as (select * from stg_accounts),
    has_subscriptions as (select count(*) > 0 as yes from subscriptions),
    from_subscriptions as (
        select
            s.account_id,
            s.start_date,
            -- stg_subscriptions' spans end the day the next starts (exclusive): end inclusive
            s.end_date - 1 as end_date,
            coalesce(s.mrr, 0) as mrr,
            'subscriptions' as source
        from subscriptions as s
    ),
    -- Without contract history, current ARR stands in while the account is a customer: no
    -- expansion or contraction can be seen, only churn.
    from_accounts as (
        select
            account_id,
            signup_date as start_date,
            churn_date - 1 as end_date,
            arr / 12 as mrr,
            'accounts.arr' as source
        from accounts
        where arr is not null
    )
select * from from_subscriptions
union all
select * from from_accounts where not (select yes from has_subscriptions)
