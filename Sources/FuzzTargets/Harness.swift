import Foundation

/// One parser of untrusted bytes, as the fuzzer and the corpus replay test drive it. `run` must not crash, hang or
/// allocate without bound for any input; what it returns are broken invariants (a round trip that does not hold, an
/// accepted value that fails its own check) — the fuzzer stops on the first, the replay test lists them.
public struct FuzzHarness: Sendable {
    /// The harness's name, as `scripts/fuzz.sh NAME` takes it.
    public let name: String
    /// What the input is, for the docs and `scripts/fuzz.sh --list`.
    public let summary: String
    /// Parses one input; returns the invariants it broke (empty when all held).
    public let run: @Sendable (Data) -> [String]

    /// A harness named `name` that drives `run`.
    public init(name: String, summary: String, run: @escaping @Sendable (Data) -> [String]) {
        self.name = name
        self.summary = summary
        self.run = run
    }
}

extension FuzzHarness {
    /// Every harness, by name; `scripts/fuzz.sh` and the replay test take them from here.
    public static let all: [FuzzHarness] =
        FuzzHarness.runs + FuzzHarness.credentials + FuzzHarness.registry + FuzzHarness.signing
        + FuzzHarness.sigstore + FuzzHarness.cluster + FuzzHarness.cloud + FuzzHarness.mongo

    /// The harness called `name`, or nil.
    public static func named(_ name: String) -> FuzzHarness? { all.first { $0.name == name } }
}

/// Collects broken invariants.
struct Findings {
    private(set) var list: [String] = []
    mutating func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { list.append(message()) }
    }
}

extension Data {
    /// The input as text, as a parser of text gets it (invalid UTF-8 replaced, as `String(decoding:)` does).
    var text: String { String(decoding: self, as: UTF8.self) }

    /// The input cut at the first NUL byte into two parts (for harnesses with two inputs).
    var halves: (Data, Data) {
        guard let zero = firstIndex(of: 0) else { return (self, Data()) }
        return (Data(self[startIndex..<zero]), Data(self[index(after: zero)...]))
    }
}
