import AKProtocol
import Foundation

/// What a replayed database is checked against: the signed manifest's row counts and schema digests
/// (only a trusted manifest's — an unsigned one proves nothing), and Authentik's key tables.
struct Validator {
    let db: DatabaseServer

    /// Tables an Authentik database cannot be empty of.
    static let keyTables = ["public.authentik_core_user", "public.authentik_core_group", "public.authentik_core_user_ak_groups",
                            "public.authentik_flows_flow", "public.authentik_core_application"]

    func validate(database: String, manifest: Manifest?) throws -> ValidationReport {
        var problems: [String] = []
        let schemas = Set(try db.query("SELECT nspname FROM pg_namespace", database: database))
        var expectedSchemas: Set<String> = ["public"]
        var tables = Validator.keyTables
        var expected: [String: Int64] = [:]
        if let m = manifest {
            for (name, count) in m.rowCounts {
                guard QualifiedTableName.isValid(name) else {
                    problems.append("the manifest names an invalid table \(name.prefix(80))")
                    continue
                }
                expected[name] = count
                expectedSchemas.insert(QualifiedTableName.schema(of: name))
            }
            tables = Array(Set(tables).union(expected.keys)).sorted()
        }
        for schema in expectedSchemas.sorted() where !schemas.contains(schema) { problems.append("schema \(schema) is missing") }
        let existence = try db.query(tables.enumerated().map { i, t in
            "SELECT \(i) || '|' || (to_regclass(\(SQL.literal(t))) IS NOT NULL)::text"
        }.joined(separator: " UNION ALL "), database: database)
        var present: [String] = []
        for line in existence {
            let f = line.split(separator: "|")
            guard f.count == 2, let i = Int(f[0]), i < tables.count else { continue }
            if f[1] == "true" { present.append(tables[i]) } else { problems.append("table \(tables[i]) is missing") }
        }
        var counts: [String: Int64] = [:]
        if !present.isEmpty {
            // The names were checked against pg_dump's form above, and exist: safe to use as written.
            let rows = try db.query(present.enumerated().map { i, t in "SELECT \(i) || '|' || count(*) FROM \(t)" }
                .joined(separator: " UNION ALL "), database: database)
            for line in rows {
                let f = line.split(separator: "|")
                if f.count == 2, let i = Int(f[0]), let n = Int64(f[1]), i < present.count { counts[present[i]] = n }
            }
        }
        for t in Validator.keyTables where counts[t] == 0 { problems.append("key table \(t) is empty") }
        for (t, n) in expected.sorted(by: { $0.key < $1.key }) where counts[t] != nil && counts[t] != n {
            problems.append("\(t) has \(counts[t]!) rows, the manifest says \(n)")
        }
        var checked: [String]?
        if let wanted = manifest?.schemaDigests, !wanted.isEmpty {
            let got = try SchemaDigest.compute { try db.query($0, database: database) }
            let differing = wanted.keys.sorted().filter { got[$0] != wanted[$0] }
            if !differing.isEmpty {
                problems.append("schema objects differ from the backup's: \(differing.joined(separator: ", "))")
            }
            checked = wanted.keys.sorted()
        }
        if problems.count > 50 { problems = Array(problems.prefix(50)) + ["… and more"] }
        return ValidationReport(ok: problems.isEmpty, rowCounts: counts, problems: problems, schemaChecked: checked)
    }
}
