import AKProtocol
import Foundation

/// A digest of every kind of schema object's definitions, independent of object ids, so a database
/// and its restored copy digest the same. The backup computes it in the dump's own snapshot and
/// signs it in the manifest; validation computes it on the staging database and compares.
public enum SchemaDigest {
    /// The kinds, in the manifest's words. `largeObjects` includes each object's size when the login
    /// may read pg_largeobject (a superuser); otherwise `largeObjectsNoSize` is used on both sides.
    public static let kinds = ["schemas", "tables", "constraints", "indexes", "views", "functions", "triggers", "rules",
                        "policies", "sequences", "types", "extensions", "largeObjects"]

    /// Whether the login may read large objects' contents (pg_largeobject is superuser-only).
    public static let canReadLargeObjectsSQL = "SELECT has_table_privilege('pg_catalog.pg_largeobject', 'SELECT')"

    /// One row per kind: `kind|sha256 hex`. Definitions are printed with search_path pg_catalog only,
    /// so every name is schema-qualified the same way on both sides. The SET stays in effect for the
    /// rest of the session: run it last (or alone).
    static func sql(withLargeObjectSizes: Bool) -> String {
        let loSize = withLargeObjectSizes
            ? "' size=' || coalesce((SELECT sum(octet_length(l.data)) FROM pg_catalog.pg_largeobject l WHERE l.loid = m.oid), 0)"
            : "''"
        let loKind = withLargeObjectSizes ? "largeObjects" : "largeObjectsNoSize"
        let kindList = kinds.map { $0 == "largeObjects" ? "('\(loKind)')" : "('\($0)')" }.joined(separator: ",")
        return """
        SET search_path TO pg_catalog;
        WITH ns AS (
          SELECT oid, nspname, nspowner, nspacl FROM pg_namespace
          WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
            AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
        ), items(kind, item) AS (
          SELECT 'schemas', quote_ident(nspname) || ' owner=' || pg_get_userbyid(nspowner) || ' acl=' || coalesce(nspacl::text, '') FROM ns
          UNION ALL
          SELECT 'tables', c.oid::regclass::text || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
                 || ' owner=' || pg_get_userbyid(c.relowner) || ' options=' || coalesce(c.reloptions::text, '')
                 || ' acl=' || coalesce(c.relacl::text, '') || ' columns=' || coalesce((
                   SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                          || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                          || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
                          || CASE WHEN a.attidentity::text <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
                          || CASE WHEN a.attgenerated::text <> '' THEN ' generated ' || a.attgenerated::text ELSE '' END
                          || coalesce(' collate ' || quote_ident(co.collname), '')
                          || coalesce(' acl=' || a.attacl::text, ''), ', ' ORDER BY a.attnum)
                   FROM pg_attribute a
                   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                   LEFT JOIN pg_collation co ON co.oid = a.attcollation AND co.collname <> 'default'
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
          FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          UNION ALL
          SELECT 'constraints', coalesce(nullif(co.conrelid, 0)::regclass::text, co.contypid::regtype::text) || ' '
                 || quote_ident(co.conname) || ' ' || pg_get_constraintdef(co.oid)
          FROM pg_constraint co JOIN ns ON ns.oid = co.connamespace
          UNION ALL
          SELECT 'indexes', pg_get_indexdef(i.indexrelid)
          FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN ns ON ns.oid = c.relnamespace
          UNION ALL
          SELECT 'views', c.oid::regclass::text || ' ' || pg_get_viewdef(c.oid)
          FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('v', 'm')
          UNION ALL
          SELECT 'functions', pg_get_functiondef(p.oid) || ' owner=' || pg_get_userbyid(p.proowner) || ' acl=' || coalesce(p.proacl::text, '')
          FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE p.prokind IN ('f', 'p')
          UNION ALL
          SELECT 'triggers', pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns ON ns.oid = c.relnamespace WHERE NOT t.tgisinternal
          UNION ALL
          SELECT 'rules', pg_get_ruledef(r.oid)
          FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN ns ON ns.oid = c.relnamespace WHERE r.rulename <> '_RETURN'
          UNION ALL
          SELECT 'policies', c.oid::regclass::text || ' ' || quote_ident(pol.polname) || ' ' || pol.polcmd::text || ' ' || pol.polpermissive::text
                 || ' roles=' || pol.polroles::text || ' using=' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '')
                 || ' check=' || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '')
          FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN ns ON ns.oid = c.relnamespace
          UNION ALL
          SELECT 'sequences', quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename) || ' ' || s.data_type::text
                 || ' start=' || s.start_value || ' increment=' || s.increment_by || ' min=' || s.min_value || ' max=' || s.max_value
                 || ' cycle=' || s.cycle || ' cache=' || s.cache_size || ' owner=' || s.sequenceowner
                 || ' last=' || coalesce(s.last_value::text, 'unset')
          FROM pg_sequences s JOIN ns ON ns.nspname = s.schemaname
          UNION ALL
          SELECT 'types', t.oid::regtype::text || ' ' || t.typtype::text || ' owner=' || pg_get_userbyid(t.typowner)
                 || coalesce(' labels=' || (SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder)
                                            FROM pg_enum e WHERE e.enumtypid = t.oid), '')
                 || CASE WHEN t.typtype = 'd' THEN ' base=' || format_type(t.typbasetype, t.typtypmod) || ' notnull=' || t.typnotnull
                                                   || coalesce(' default=' || t.typdefault, '') ELSE '' END
          FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
          WHERE t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'b' AND t.typcategory <> 'A')
             OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class k WHERE k.oid = t.typrelid AND k.relkind = 'c'))
          UNION ALL
          SELECT 'extensions', quote_ident(x.extname) || ' ' || x.extversion || ' schema=' || quote_ident(n.nspname)
          FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
          UNION ALL
          SELECT '\(loKind)', m.oid::text || ' owner=' || pg_get_userbyid(m.lomowner) || ' acl=' || coalesce(m.lomacl::text, '') || \(loSize)
          FROM pg_largeobject_metadata m
        )
        SELECT k.kind || '|' || encode(sha256(convert_to(coalesce(string_agg(i.item, E'\\n' ORDER BY i.item COLLATE "C"), ''), 'UTF8')), 'hex')
        FROM (VALUES \(kindList)) AS k(kind) LEFT JOIN items i ON i.kind = k.kind
        GROUP BY k.kind ORDER BY k.kind;
        """
    }

    /// Parses `kind|hex` rows.
    static func parse(_ rows: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for row in rows {
            let f = row.split(separator: "|", maxSplits: 1)
            if f.count == 2, f[1].count == 64 { out[String(f[0])] = String(f[1]) }
        }
        return out
    }

    /// Computes the digests on `database` through `run` (one SQL text in, rows out).
    static func compute(run: (String) throws -> [String]) throws -> [String: String] {
        let canRead = (try run(canReadLargeObjectsSQL)).last == "t"
        let rows = try run(sql(withLargeObjectSizes: canRead))
        let digests = parse(rows)
        guard digests.count == kinds.count else {
            throw ErrorMessage(id: nil, code: .failed, message: "the schema digest query returned \(digests.count) of \(kinds.count) kinds",
                               hint: "check the database server with `akbackup doctor`")
        }
        return digests
    }
}
