/// A resource scope: `repository:<name>:<actions>`.
public enum Scope {
    public static func pull(_ repository: String) -> String { "repository:\(repository):pull" }
    public static func push(_ repository: String) -> String { "repository:\(repository):pull,push" }
}
