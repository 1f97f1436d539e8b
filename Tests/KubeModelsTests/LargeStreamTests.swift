import Foundation
import Testing

@testable import KubeModels

@Suite("large manifest streams, read in pieces")
struct LargeStreamTests {
    /// `count` TaskRun-like documents, each with a literal block and a flow map, separated by `---` lines.
    func stream(_ count: Int, broken: Int? = nil) -> String {
        (0..<count).map { i in
            """
            ---
            apiVersion: tekton.dev/v1
            kind: TaskRun
            metadata: {name: run-\(i), labels: {n: "\(i)"}}
            spec:
              script: |
                echo \(i)
                --- not a document start: indented
            status:
              results:
              - {name: IMAGE_DIGEST, value: "sha256:\(String(repeating: "a", count: 64))"}
              - name: notes
                value: \(i == broken ? "[unclosed" : "plain text #\(i)")

            """
        }.joined()
    }

    @Test("a stream past the threshold is cut into pieces and reads as the whole does, in order")
    func piecesReadAsWhole() throws {
        let text = stream(3000)
        let bytes = Array(text.utf8)
        #expect(bytes.count > ManifestReader.parallelThreshold)
        let pieces = try #require(ManifestReader.documentPieces(bytes))
        if ProcessInfo.processInfo.activeProcessorCount > 1 { #expect(pieces.count > 1) }
        #expect(pieces.reduce(0) { $0 + $1.count } == bytes.count)
        for piece in pieces.dropFirst() { #expect(Array(piece.prefix(4)) == Array("---\n".utf8)) }
        let documents = try ManifestReader.parse(Data(text.utf8), source: "big.yaml").documents
        #expect(documents.count == 3000)
        #expect(documents.map { $0["metadata"]?["name"]?.stringValue } == (0..<3000).map { "run-\($0)" })
        #expect(documents[2999]["spec"]?["script"] == .string("echo 2999\n--- not a document start: indented\n"))
    }

    @Test("directives keep a stream whole; a lone document is not cut")
    func notCut() {
        #expect(ManifestReader.documentPieces(Array(("%YAML 1.2\n" + stream(10)).utf8)) == nil)
        #expect(ManifestReader.documentPieces(Array("a: 1\nb: ---\n----: x\n".utf8)) == nil)
    }

    @Test("an error in a later piece is reported as reading the whole file reports it, with its line")
    func errorInLaterPiece() throws {
        let text = stream(3000, broken: 2500)
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex {
            $0.contains("[unclosed")
        }!
        #expect {
            _ = try ManifestReader.parse(Data(text.utf8), source: "big.yaml")
        } throws: { error in
            guard let error = error as? ManifestError, error.source == "big.yaml", error.code == .syntax else {
                return false
            }
            // Yams names the line (1-based) where the reader stopped: at or after the unclosed bracket, never in the
            // first lines of a piece.
            let described = "\(error)"
            let numbers = described.split { !$0.isNumber }.compactMap { Int($0) }
            return numbers.contains { $0 > line && $0 < line + 20 }
        }
    }

    @Test("Concurrently.map keeps the order and throws the first error in item order")
    func concurrentlyMap() {
        struct Odd: Error, Equatable { let n: Int }
        let items = Array(0..<10_000)
        #expect(Concurrently.map(items) { $0 * 2 } == items.map { $0 * 2 })
        #expect(throws: Odd(n: 7)) {
            _ = try Concurrently.map(items) { (n: Int) throws(Odd) -> Int in
                if n % 7 == 0 && n > 0 { throw Odd(n: n) }
                return n
            }
        }
    }
}
