import AKProtocol

/// The valid vectors of retention (PROTOCOL.md §14), part of `ValidCatalogue.messages`.
enum RetentionVectors {
    typealias S = ValidCatalogue.Sample

    static let policy = RetentionPolicyInfo(configured: true, text: "keep_daily 7, keep_weekly 5, keep_monthly 12, keep_within 2d; min_age 1d, min_keep 3",
                                            keepLast: 0, keepHourly: 0, keepDaily: 7, keepWeekly: 5, keepMonthly: 12, keepYearly: 0,
                                            keepWithin: "2d", minAge: "1d", minKeep: 3)
    static let noPolicy = RetentionPolicyInfo(configured: false, text: "none: nothing is ever deleted", keepLast: 0, keepHourly: 0,
                                              keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0, keepWithin: nil, minAge: "1d", minKeep: 3)
    static let pin = Pin(name: S.otherKeyName, reason: "before the 2026.2 upgrade", pinnedAt: "2026-01-30T18:00:00Z", by: "alice@laptop")

    static let messages: [(String, Message)] = [
        ("prune", Message(PruneRequest(id: 1, dryRun: false))),
        ("prune_dry_run", Message(PruneRequest(id: 1, dryRun: true))),
        ("prune_page", Message(PruneRequest(id: 2, dryRun: true, offset: 1000, limit: 1000))),
        // A dry run of the policy above on four backups: one would go.
        ("prune_result", Message(PruneResult(id: 1, dryRun: true, policy: policy, total: 4, kept: 3, removed: 1, bytesFreed: 3_990_112,
                                             bytesKept: 12_542_884, keptBy: [
                                                 RetentionRuleCount(rule: "daily", kept: 2), RetentionRuleCount(rule: "weekly", kept: 2),
                                                 RetentionRuleCount(rule: "monthly", kept: 1), RetentionRuleCount(rule: "within", kept: 1),
                                                 RetentionRuleCount(rule: "newest verified", kept: 1), RetentionRuleCount(rule: "min_keep", kept: 3),
                                                 RetentionRuleCount(rule: "pinned", kept: 1),
                                             ], offset: 0, decisions: [
                                                 PruneDecision(name: S.name, keep: true, reasons: [
                                                     "within 2d", "daily 2026-01-31", "weekly 2026-W05", "monthly 2026-01", "floor: newest verified", "floor: min_keep 3",
                                                 ], size: 4_182_530),
                                                 PruneDecision(name: "authentik-db-2026-01-24T020000Z.sql.gz", keep: true,
                                                               reasons: ["daily 2026-01-24", "weekly 2026-W04", "floor: min_keep 3"], size: 4_180_130),
                                                 PruneDecision(name: S.otherKeyName, keep: true, reasons: ["floor: min_keep 3", "pinned: before the 2026.2 upgrade"],
                                                               size: 4_180_224),
                                                 PruneDecision(name: S.handMadeName, keep: false, reasons: [], size: 3_990_112),
                                             ], freeBytes: 1_099_507_445_246))),
        ("prune_result_no_policy", Message(PruneResult(id: 1, dryRun: false, policy: noPolicy, total: 1, kept: 1, removed: 0, bytesFreed: 0,
                                                       bytesKept: 4_182_530, keptBy: [RetentionRuleCount(rule: "no policy", kept: 1),
                                                                                      RetentionRuleCount(rule: "newest verified", kept: 1),
                                                                                      RetentionRuleCount(rule: "min_age", kept: 1),
                                                                                      RetentionRuleCount(rule: "min_keep", kept: 1)],
                                                       offset: 0, decisions: [
                                                           PruneDecision(name: S.name, keep: true, reasons: [
                                                               "no policy: nothing is deleted", "floor: newest verified", "floor: min_age 1d", "floor: min_keep 3",
                                                           ], size: 4_182_530),
                                                       ], freeBytes: nil))),
        ("error_prune_page_without_plan", Message(ErrorMessage(id: 2, code: .badRequest,
            message: "prune at offset 1000 pages a plan this session has not made (dry run at offset 0 first)",
            hint: "ask for offset 0 first; later pages come from that plan and never remove anything"))),
        ("error_prune_interrupted", Message(ErrorMessage(id: 1, code: .ioError,
            message: "prune removed 2 of 5 backups, then failed: cannot delete /volume1/backups/apps/authentik/.authentik-db-2026-01-15T093000Z.sql.gz.pruning: Permission denied",
            hint: "check the owner and mode of /volume1/backups/apps/authentik (running as aknas); the next prune finishes what this one left"))),
        ("pin", Message(PinRequest(id: 1, name: S.otherKeyName, pinned: true, reason: "before the 2026.2 upgrade", requestedBy: S.requestedBy))),
        ("pin_unpin", Message(PinRequest(id: 1, name: S.otherKeyName, pinned: false, reason: nil, requestedBy: S.requestedBy))),
        ("done_pinned", Message(Done(id: 1, detail: "pinned \(S.otherKeyName): before the 2026.2 upgrade"))),
        ("done_unpinned", Message(Done(id: 1, detail: "unpinned \(S.otherKeyName)"))),
        ("list_result_pinned", Message(ListResult(id: 1, artifacts: [
            ArtifactInfo(name: S.otherKeyName, size: 4_180_224, modifiedAt: "2026-01-20T02:00:09Z", manifest: S.listOtherKeyManifest,
                         signature: .untrusted, pin: pin),
        ], total: 1, freeBytes: 1_099_507_445_246))),
    ]
}
