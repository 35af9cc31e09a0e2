-- one row per action with a starting point: health then, 4 and 8 weeks later; done actions start when marked done, the others when triggered
-- `done_actions` (action_id, marked_on) is registered by the caller from the action log.
with
    actions as (select * from mart_actions),
    done as (select * from done_actions),
    history as (select account_id, week_end, health_score from mart_health_history),
    starts as (
        select
            a.action_id,
            a.account_id,
            a.reason_kind,
            a.reason,
            d.marked_on is not null as acted,
            coalesce(d.marked_on, a.triggered_on) as start_on
        from actions as a
        left join done as d using (action_id)
        -- a duplicate is a second row for one trigger: counting it would count the trigger twice
        where a.state <> 'duplicate'
    ),
    at_start as (
        select s.*, h.health_score as health_then, h.week_end as then_week
        from starts as s
        asof join history as h on h.account_id = s.account_id and h.week_end <= s.start_on
    ),
    after_4w as (
        select s.*, h.health_score as health_4w, h.week_end as week_4w
        from at_start as s
        asof left join history as h
            on h.account_id = s.account_id and h.week_end >= s.then_week + 28
    ),
    later as (
        select s.*, h.health_score as health_8w, h.week_end as week_8w
        from after_4w as s
        asof left join history as h
            on h.account_id = s.account_id and h.week_end >= s.then_week + 56
    )
select
    action_id,
    account_id,
    reason_kind,
    reason,
    acted,
    start_on,
    health_then,
    -- a week more than 6 days past the mark is another week's score: not observed yet
    case when week_4w <= then_week + 34 then health_4w - health_then end as change_4w,
    case when week_8w <= then_week + 62 then health_8w - health_then end as change_8w
from later
