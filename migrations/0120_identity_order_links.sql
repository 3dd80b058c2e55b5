-- Shopify order links sent together (src/tables/identity.ts `LinkBatcher`). Inserting rows into
-- the view `identity_order_links` (shop, order id, event id) runs the order resolver's identity
-- statements once per row, in insert order: the same statements, with the same rules, as a link
-- sent on its own (the rules are stated in src/tables/identity.ts), compiled once for a whole
-- batch instead of once per order. The view holds nothing.
-- Generated: the text below is `orderLinksSql()` of src/tables/identity.ts, and a test checks that
-- it still is. When the rules change, a new migration drops the trigger and creates it again.

CREATE VIEW identity_order_links (shop, id, event_id) AS SELECT NULL, NULL, NULL WHERE 0;
CREATE TRIGGER identity_order_links_apply INSTEAD OF INSERT ON identity_order_links BEGIN
  INSERT INTO customer_profiles (id, email, created_at, updated_at, last_event_id)
    SELECT 'cp_' || lower(hex(randomblob(8))), c.email, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NEW.event_id FROM (SELECT c.*, (SELECT l.profile_id FROM customer_identities l
  WHERE l.shopify_customer_id = c.link AND NOT (l.source = c.source AND l.external_id = c.ext AND l.shop = c.shop)
  ORDER BY l.source = 'shopify' DESC, l.created_at, l.external_id LIMIT 1) AS link_profile FROM (SELECT 'shopify' AS source, o.shop, o.customer_id AS ext, coalesce(k.email, o.email) AS email,
        o.customer_id AS link
      FROM shopify_orders o LEFT JOIN shopify_customers k ON k.shop = o.shop AND k.id = o.customer_id
      WHERE o.shop = NEW.shop AND o.id = NEW.id AND o.customer_id IS NOT NULL) c) c
    WHERE c.email IS NOT NULL AND c.link_profile IS NULL
      AND NOT EXISTS (SELECT 1 FROM customer_profile_emails e WHERE e.email = c.email)
      AND NOT EXISTS (SELECT 1 FROM customer_identities i WHERE i.source = c.source AND i.external_id = c.ext AND i.shop = c.shop)
    ON CONFLICT (email) DO NOTHING;
  INSERT INTO customer_identities (source, external_id, shop, profile_id, email, shopify_customer_id, matched_by,
      created_at, updated_at, last_event_id)
    SELECT c.source, c.ext, c.shop, coalesce(c.link_profile, e.profile_id, p.id), c.email, c.link,
      CASE WHEN c.link_profile IS NULL THEN 'email' ELSE 'shopify_customer_id' END, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NEW.event_id
    FROM (SELECT c.*, (SELECT l.profile_id FROM customer_identities l
  WHERE l.shopify_customer_id = c.link AND NOT (l.source = c.source AND l.external_id = c.ext AND l.shop = c.shop)
  ORDER BY l.source = 'shopify' DESC, l.created_at, l.external_id LIMIT 1) AS link_profile FROM (SELECT 'shopify' AS source, o.shop, o.customer_id AS ext, coalesce(k.email, o.email) AS email,
        o.customer_id AS link
      FROM shopify_orders o LEFT JOIN shopify_customers k ON k.shop = o.shop AND k.id = o.customer_id
      WHERE o.shop = NEW.shop AND o.id = NEW.id AND o.customer_id IS NOT NULL) c) c LEFT JOIN customer_profile_emails e ON e.email = c.email
      LEFT JOIN customer_profiles p ON p.email = c.email
    WHERE coalesce(c.link_profile, e.profile_id, p.id) IS NOT NULL
    ON CONFLICT (source, external_id, shop) DO NOTHING;
  INSERT INTO customer_identity_conflicts (source, external_id, shop, kind, other_profile_id, profile_id, email, first_seen_at, last_seen_at, last_event_id)
    SELECT c.source, c.ext, c.shop, 'email_in_other_profile', e.profile_id, i.profile_id, c.email, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NEW.event_id
    FROM (SELECT 'shopify' AS source, o.shop, o.customer_id AS ext, coalesce(k.email, o.email) AS email,
        o.customer_id AS link
      FROM shopify_orders o LEFT JOIN shopify_customers k ON k.shop = o.shop AND k.id = o.customer_id
      WHERE o.shop = NEW.shop AND o.id = NEW.id AND o.customer_id IS NOT NULL) c JOIN customer_identities i ON i.source = c.source AND i.external_id = c.ext AND i.shop = c.shop JOIN customer_profile_emails e ON e.email = c.email
    WHERE e.profile_id <> i.profile_id AND i.last_event_id = NEW.event_id
    ON CONFLICT (source, external_id, shop, kind, other_profile_id) DO UPDATE SET
  profile_id = excluded.profile_id, email = excluded.email, last_seen_at = excluded.last_seen_at,
  last_event_id = excluded.last_event_id;
  INSERT INTO customer_profile_emails (email, profile_id, created_at, last_event_id)
    SELECT c.email, i.profile_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NEW.event_id FROM (SELECT 'shopify' AS source, o.shop, o.customer_id AS ext, coalesce(k.email, o.email) AS email,
        o.customer_id AS link
      FROM shopify_orders o LEFT JOIN shopify_customers k ON k.shop = o.shop AND k.id = o.customer_id
      WHERE o.shop = NEW.shop AND o.id = NEW.id AND o.customer_id IS NOT NULL) c JOIN customer_identities i ON i.source = c.source AND i.external_id = c.ext AND i.shop = c.shop
    WHERE c.email IS NOT NULL AND i.last_event_id = NEW.event_id
    ON CONFLICT (email) DO NOTHING;
END;
