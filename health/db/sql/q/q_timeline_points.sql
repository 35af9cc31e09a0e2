-- one row per dated thing that happened to one account: lane, date, label, detail, colour key
with
    steps as (select * from int_journey_steps where account_id = $account_id),
    touchpoints as (select * from stg_touchpoints where account_id = $account_id),
    tickets as (select * from stg_tickets where account_id = $account_id),
    surveys as (select * from stg_surveys where account_id = $account_id),
    subscriptions as (select * from stg_subscriptions where account_id = $account_id),
    moments as (select * from moments where account_id = $account_id),
    contract_changes as (
        select start_date, plan, mrr, seats,
            lag(mrr) over w as prev_mrr, lag(seats) over w as prev_seats
        from subscriptions
        window w as (order by start_date)
    )
select 'Milestones' as lane, reached_on as on_date, step as label,
    'Reached ' || lower(step) as detail, 'milestone' as key
from steps
union all
select 'CSM', occurred_at::date, kind,
    coalesce(author || ': ', '') || coalesce(note, kind), coalesce(sentiment, 'none')
from touchpoints
union all
select 'Support', opened_at::date, priority || ' ticket',
    coalesce(topic, 'ticket') || coalesce(' (CSAT ' || csat::INTEGER || ')', '')
        || case when closed_at is null then ' - open' else '' end,
    priority
from tickets
union all
select 'NPS', responded_at::date, 'NPS ' || score::INTEGER,
    category || coalesce(': ' || comment, ''), category
from surveys
union all
select 'Contract', start_date,
    case when prev_mrr is null then 'Contract start'
         when mrr > prev_mrr or seats > prev_seats then 'Expansion'
         when mrr < prev_mrr or seats < prev_seats then 'Contraction'
         else 'Renewal' end,
    coalesce(plan, '') || ' - MRR ' || coalesce(round(mrr)::BIGINT::VARCHAR, '?')
        || ', ' || coalesce(seats::BIGINT::VARCHAR, '?') || ' seats',
    case when prev_mrr is null then 'start'
         when mrr > prev_mrr or seats > prev_seats then 'expansion'
         when mrr < prev_mrr or seats < prev_seats then 'contraction'
         else 'renewal' end
from contract_changes
union all
select 'Moments', started_on, replace(kind, '_', ' '), evidence, moment
from moments
where detected_on <= (select as_of from params)
order by on_date
