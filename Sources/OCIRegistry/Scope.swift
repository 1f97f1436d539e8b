/// A resource scope: `repository:<name>:<actions>`.
package enum Scope {
    package static func pull(_ repository: String) -> String { "repository:\(repository):pull" }
    package static func push(_ repository: String) -> String { "repository:\(repository):pull,push" }
}
