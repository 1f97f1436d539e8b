import Testing

@testable import ChainsCore

@Suite("Annotation rules")
struct AnnotationsTests {
    @Test(
        "reconciled means signed=true or signed=failed",
        arguments: [
            (["chains.tekton.dev/signed": "true"], true), (["chains.tekton.dev/signed": "failed"], true),
            (["chains.tekton.dev/signed": "false"], false), ([:], false),
        ])
    func reconciled(annotations: [String: String], expected: Bool) {
        #expect(ChainsAnnotations.isReconciled(annotations) == expected)
    }

    @Test("failures count retries 0, 1, 2, 3, then mark failed (five attempts in all)")
    func retrySequence() {
        var annotations: [String: String] = [:]
        var marks: [String] = []
        for _ in 0..<5 {
            let next = ChainsAnnotations.afterFailure(annotations)
            annotations.merge(next) { _, n in n }
            marks.append(
                next[ChainsAnnotations.retries].map { "retries=\($0)" } ?? "signed=\(next[ChainsAnnotations.signed]!)")
        }
        #expect(marks == ["retries=0", "retries=1", "retries=2", "retries=3", "signed=failed"])
        #expect(annotations[ChainsAnnotations.retries] == "3")
    }

    @Test("a non-numeric retries value means no retry is left")
    func badRetries() {
        #expect(
            ChainsAnnotations.afterFailure([ChainsAnnotations.retries: "x"]) == [ChainsAnnotations.signed: "failed"])
    }
}
