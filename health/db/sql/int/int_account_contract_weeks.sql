-- one row per account per week with a contract line started by week_end: the contract then (sums over its open lines), and 90 days before
with
    -- the weeks a refresh computes (params.rebuild_from on; the earlier are kept)
    weeks as (
        select account_id, week_end from int_account_weeks
        where week_end >= (select rebuild_from from params)
    ),
    spans as (
        select
            *,
            -- the latest standard term the account signed, for renewals of open-ended lines
            last_value(term_months ignore nulls) over (
                partition by account_id order by start_date rows unbounded preceding
            ) as last_term_months
        from stg_subscriptions
    ),
    current as (
        select w.account_id, w.week_end, t.*
        from weeks as w
        asof join spans as t on w.account_id = t.account_id and w.week_end >= t.start_date
    ),
    earlier as (
        select w.account_id, w.week_end, t.mrr as mrr_90d_ago, t.seats as seats_90d_ago,
            t.lines as lines_90d_ago
        from weeks as w
        asof join spans as t
            on w.account_id = t.account_id and (w.week_end - 90)::date >= t.start_date
    ),
    renewals as (
        select
            *,
            -- Renewal: the end of the current commitment (a term line open now) or, on an
            -- open-ended line after terms, the next anniversary of the span's start by that term.
            case
                when term_end > week_end then term_end
                when last_term_months is not null then (
                    start_date + to_months(
                        (datesub('month', start_date, week_end) // last_term_months + 1)
                        * last_term_months
                    )
                )::date
            end as renews_on
        from current
    )
select
    c.account_id,
    c.week_end,
    c.mrr,
    c.seats,
    c.plan,
    c.lines,
    coalesce(c.last_term_months >= 12, false) as annual,
    c.last_term_months as term_months,
    date_diff('day', c.start_date, c.week_end) as days_in_term,
    date_diff('day', c.plan_since, c.week_end) / 30.436875 as months_on_plan,
    date_diff('day', c.week_end, c.renews_on) as days_to_term_end,
    e.mrr_90d_ago,
    e.seats_90d_ago,
    e.lines_90d_ago
from renewals as c
left join earlier as e using (account_id, week_end)
