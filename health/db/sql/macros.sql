-- the week a day falls in: weeks end on the as-of date's weekday, so "last 4 weeks" is exactly 28 days
CREATE OR REPLACE MACRO week_end(d, as_of) AS (as_of - (7 * (date_diff('day', d::date, as_of) // 7))::INTEGER)::date;
-- the accounts a KPI is asked for (NULL list = all), each with its value under the breakdown
-- (an allow-listed column name, checked in health/analytics/metrics.py; 'All' without one)
CREATE OR REPLACE MACRO kpi_scope(segment_filter, id_filter, breakdown) AS TABLE
    SELECT
        a.*,
        CASE breakdown
            WHEN 'segment' THEN a.segment WHEN 'plan' THEN a.plan
            WHEN 'industry' THEN a.industry WHEN 'region' THEN a.region
            WHEN 'csm_owner' THEN a.csm_owner ELSE 'All'
        END AS "group"
    FROM stg_accounts AS a
    WHERE (segment_filter::VARCHAR[] IS NULL OR list_contains(segment_filter::VARCHAR[], a.segment))
      AND (id_filter::VARCHAR[] IS NULL OR list_contains(id_filter::VARCHAR[], a.account_id));
