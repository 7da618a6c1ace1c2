-- What an alert is about, recorded with it: its metric (NULL for a feed's silence) and its rule's condition.
-- Until now both were read back from the rule (and a catalog rule's name, "catalog:<metric>"); a rule
-- edited or removed since then no longer said what an old alert was about.
ALTER TABLE alerts ADD COLUMN metric text, ADD COLUMN condition text;
UPDATE alerts a SET metric = r.definition->>'metric', condition = r.definition->>'condition'
  FROM alert_rules r WHERE r.name = a.rule;
UPDATE alerts SET metric = substr(rule, 9) WHERE metric IS NULL AND rule LIKE 'catalog:%';
UPDATE alerts SET condition = 'feed_silent' WHERE condition IS NULL AND metric IS NULL;
-- The engine always writes both; a row written by hand without a condition is taken as a threshold alert.
ALTER TABLE alerts ALTER COLUMN condition SET DEFAULT 'above';
UPDATE alerts SET condition = 'above' WHERE condition IS NULL;
ALTER TABLE alerts ALTER COLUMN condition SET NOT NULL;

-- A rule the engine could not evaluate (it raised): the reason, shown on /rules; NULL when it works.
ALTER TABLE alert_rules ADD COLUMN broken text, ADD COLUMN broken_at timestamptz;
