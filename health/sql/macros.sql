-- the week a day falls in: weeks end on the as-of date's weekday, so "last 4 weeks" is exactly 28 days
CREATE OR REPLACE MACRO week_end(d, as_of) AS (as_of - (7 * (date_diff('day', d::date, as_of) // 7))::INTEGER)::date;
