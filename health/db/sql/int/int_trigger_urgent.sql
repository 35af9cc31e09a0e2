-- one row per active account with high or urgent tickets open long enough: a trigger episode
-- Same columns in every int_trigger_* file; int_action_triggers.sql stacks them.
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    tickets as (select * from stg_tickets),
    live as (select * from accounts where churn_date is null),
    -- urgent_tickets: islands of overlapping open urgent tickets; the current island's start
    hot as (
        select t.account_id, t.ticket_id, t.opened_at, t.closed_at, t.priority, t.topic
        from tickets as t
        join live using (account_id)
        where list_contains($ticket_priorities, t.priority)
    ),
    hot_covered as (
        select
            *,
            max(coalesce(closed_at, 'infinity'::timestamp)) over (
                partition by account_id order by opened_at, ticket_id
                rows between unbounded preceding and 1 preceding
            ) as covered_until
        from hot
    ),
    hot_islands as (
        select
            *,
            sum(case when covered_until is null or opened_at > covered_until then 1 else 0 end)
                over (partition by account_id order by opened_at, ticket_id
                    rows unbounded preceding) as island
        from hot_covered
    ),
    hot_current as (
        select
            account_id,
            min(opened_at)::date as started_on,
            min(opened_at) filter (where closed_at is null)::date as oldest_open,
            count(*) filter (where closed_at is null) as open_now,
            count(*) filter (where closed_at is null and priority = 'urgent') as urgent_now,
            arg_min(topic, opened_at) filter (where closed_at is null) as topic
        from hot_islands
        group by account_id, island
        having count(*) filter (where closed_at is null) > 0
    ),
    urgent as (
        select
            h.account_id,
            'risk' as reason_kind,
            'urgent_tickets' as reason,
            h.started_on,
            (h.oldest_open + $ticket_open_days::integer)::date as triggered_on,
            least(0.5 + 0.15 * h.open_now, 1) as severity,
            format(
                '{:d} {} open ({:d} urgent), the oldest since {} ({:d} days){}',
                h.open_now,
                case when h.open_now = 1
                    then 'high-priority ticket' else 'high-priority tickets' end,
                h.urgent_now,
                strftime(h.oldest_open, '%-d %b %Y'),
                date_diff('day', h.oldest_open, p.as_of),
                case when h.topic is not null then format(': {}', h.topic) else '' end
            ) as evidence,
            true as active
        from hot_current as h
        cross join params as p
        where h.oldest_open + $ticket_open_days::integer <= p.as_of
    )
select * from urgent
