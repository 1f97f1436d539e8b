import KubeModels

/// The run's `spec` as Tekton Chains puts it in `externalParameters.runSpec`: Go's JSON re-serialisation of the
/// typed `TaskRunSpec` / `PipelineRunSpec`, not a copy of the input. That means: unknown fields dropped, `omitempty`
/// fields dropped when empty, fields Go always writes added (`serviceAccountName`, `taskRunTemplate`, each step's
/// `computeResources`), and durations re-rendered (`1h` → `1h0m0s`).
enum RunSpec {
    static let taskRunSpecFields: Set<String> = [
        "debug", "params", "serviceAccountName", "taskRef", "taskSpec", "status", "statusMessage", "retries",
        "timeout", "podTemplate", "workspaces", "stepSpecs", "sidecarSpecs", "computeResources", "managedBy",
    ]
    static let pipelineRunSpecFields: Set<String> = [
        "pipelineRef", "pipelineSpec", "params", "status", "timeouts", "taskRunTemplate", "workspaces",
        "taskRunSpecs", "managedBy",
    ]

    static func taskRun(_ raw: JSONValue?) -> JSONValue {
        var spec = (raw?.objectValue ?? [:]).filter { taskRunSpecFields.contains($0.key) }
        spec = omitEmpty(spec, keep: ["managedBy"])
        spec["serviceAccountName"] = raw?["serviceAccountName"] ?? ""
        if let ref = spec["taskRef"] { spec["taskRef"] = self.ref(ref, kind: true) }
        if let params = spec["params"] { spec["params"] = self.params(params) }
        if let timeout = spec["timeout"]?.stringValue { spec["timeout"] = .string(GoDuration.normalise(timeout)) }
        if let taskSpec = spec["taskSpec"] { spec["taskSpec"] = self.taskSpec(taskSpec) }
        return .object(spec)
    }

    static func pipelineRun(_ raw: JSONValue?) -> JSONValue {
        var spec = (raw?.objectValue ?? [:]).filter { pipelineRunSpecFields.contains($0.key) }
        spec = omitEmpty(spec, keep: ["managedBy", "taskRunTemplate"])
        var template = omitEmpty(spec["taskRunTemplate"]?.objectValue ?? [:], keep: [])
        template = template.filter { $0.key == "serviceAccountName" || $0.key == "podTemplate" }
        spec["taskRunTemplate"] = .object(template)
        if let ref = spec["pipelineRef"] { spec["pipelineRef"] = self.ref(ref, kind: false) }
        if let params = spec["params"] { spec["params"] = self.params(params) }
        if case .object(var timeouts)? = spec["timeouts"] {
            for (k, v) in timeouts {
                if let s = v.stringValue { timeouts[k] = .string(GoDuration.normalise(s)) }
            }
            spec["timeouts"] = .object(timeouts.filter { ["pipeline", "tasks", "finally"].contains($0.key) })
        }
        if let pipelineSpec = spec["pipelineSpec"] { spec["pipelineSpec"] = self.pipelineSpec(pipelineSpec) }
        return .object(spec)
    }

    static func omitEmpty(_ o: [String: JSONValue], keep: Set<String>) -> [String: JSONValue] {
        o.filter { keep.contains($0.key) || !$0.value.isEmptyForOmitEmpty }
    }

    static func ref(_ v: JSONValue, kind: Bool) -> JSONValue {
        var allowed: Set<String> = ["name", "apiVersion", "resolver", "params"]
        if kind { allowed.insert("kind") }
        var o = omitEmpty((v.objectValue ?? [:]).filter { allowed.contains($0.key) }, keep: [])
        if let params = o["params"] { o["params"] = self.params(params) }
        return .object(o)
    }

    static func params(_ v: JSONValue) -> JSONValue {
        .array(
            (v.arrayValue ?? []).map { p in
                .object(["name": p["name"] ?? "", "value": paramValue(p["value"])])
            })
    }

    /// `ParamValue` as Go writes it back: string, array of strings or object of strings.
    static func paramValue(_ v: JSONValue?) -> JSONValue {
        switch v {
        case .string?, .array?, .object?: return v!
        case nil, .null?: return ""
        case .some(let other): return .string(other.serialized())
        }
    }

    static func containers(_ v: JSONValue?) -> JSONValue? {
        guard let items = v?.arrayValue else { return v }
        return .array(
            items.map { item in
                var o = omitEmpty(item.objectValue ?? [:], keep: ["name"])
                if o["name"] == nil { o["name"] = "" }
                o["computeResources"] = item["computeResources"] ?? .object([:])
                if let params = o["params"] { o["params"] = self.params(params) }
                if let t = o["timeout"]?.stringValue { o["timeout"] = .string(GoDuration.normalise(t)) }
                return .object(o)
            })
    }

    static func taskSpec(_ v: JSONValue) -> JSONValue {
        var o = omitEmpty(v.objectValue ?? [:], keep: [])
        if let steps = containers(o["steps"]) { o["steps"] = steps }
        if let sidecars = containers(o["sidecars"]) { o["sidecars"] = sidecars }
        return .object(o)
    }

    static func pipelineSpec(_ v: JSONValue) -> JSONValue {
        var o = omitEmpty(v.objectValue ?? [:], keep: [])
        for key in ["tasks", "finally"] {
            guard let tasks = o[key]?.arrayValue else { continue }
            o[key] = .array(
                tasks.map { task in
                    var t = omitEmpty(task.objectValue ?? [:], keep: [])
                    if let ts = t["taskSpec"] { t["taskSpec"] = taskSpec(ts) }
                    if let params = t["params"] { t["params"] = self.params(params) }
                    if let ref = t["taskRef"] { t["taskRef"] = self.ref(ref, kind: true) }
                    return .object(t)
                })
        }
        return .object(o)
    }
}

/// Go's `time.Duration` text: parse `1h30m`, `90s`, `1.5h`…; print as `Duration.String()` does (`1h30m0s`).
enum GoDuration {
    static func normalise(_ text: String) -> String {
        guard let nanos = parse(text) else { return text }
        return format(nanos)
    }

    static func parse(_ text: String) -> Int64? {
        var s = Substring(text)
        var negative = false
        if s.first == "-" || s.first == "+" {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        if s == "0" { return 0 }
        guard !s.isEmpty else { return nil }
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 6e10), ("h", 3.6e12),
        ]
        var total: Double = 0
        while !s.isEmpty {
            var number = ""
            while let c = s.first, c.isNumber || c == "." {
                number.append(c)
                s = s.dropFirst()
            }
            guard let value = Double(number) else { return nil }
            guard let unit = units.first(where: { s.hasPrefix($0.0) && !(($0.0 == "m") && s.hasPrefix("ms")) }) else {
                return nil
            }
            s = s.dropFirst(unit.0.count)
            total += value * unit.1
        }
        let n = Int64(total.rounded())
        return negative ? -n : n
    }

    static func format(_ nanos: Int64) -> String {
        if nanos == 0 { return "0s" }
        let negative = nanos < 0
        var u = UInt64(negative ? -nanos : nanos)
        var out = ""
        if u < 1_000_000_000 {
            // Sub-second: ns, µs or ms with a fraction.
            let (unit, scale): (String, UInt64) =
                u < 1_000 ? ("ns", 1) : (u < 1_000_000 ? ("µs", 1_000) : ("ms", 1_000_000))
            out = fraction(u, scale) + unit
        } else {
            let hours = u / 3_600_000_000_000
            u -= hours * 3_600_000_000_000
            let minutes = u / 60_000_000_000
            u -= minutes * 60_000_000_000
            out = fraction(u, 1_000_000_000) + "s"
            if hours > 0 || minutes > 0 { out = "\(minutes)m" + out }
            if hours > 0 { out = "\(hours)h" + out }
        }
        return (negative ? "-" : "") + out
    }

    private static func fraction(_ v: UInt64, _ scale: UInt64) -> String {
        let whole = v / scale
        var frac = v % scale
        guard frac > 0 else { return "\(whole)" }
        var digits = String(scale).count - 1
        var text = ""
        while digits > 0 {
            text = String(frac % 10) + text
            frac /= 10
            digits -= 1
        }
        while text.hasSuffix("0") { text.removeLast() }
        return "\(whole).\(text)"
    }
}
