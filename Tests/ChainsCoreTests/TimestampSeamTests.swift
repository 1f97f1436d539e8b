import ChainsConfig
import ChainsTesting
import Foundation
import KubeModels
import OCI
import Signing
import Testing

@testable import ChainsCore

/// The pipeline's timestamp seam, proved with a double (no RFC 3161 client yet): after signing, before the log;
/// kept in the signed artifact, its bundles and its attempt record; a retry that reuses a signature keeps its
/// timestamp, and a record's timestamp is trusted only when the configured authority verifies it.
@Suite("The timestamp seam: a test double authority through sign, bundle, attempt record and retry")
struct TimestampSeamTests {
    let key = try! PrivateKey.generate(.ecdsaP256)
    let digest = "sha256:" + String(repeating: "ab", count: 32)

    func run(annotations: [String: String] = [:]) throws -> AnyRun {
        try annotatedRun(image: "registry.example.com/team-a/app", digest: digest, annotations: annotations)
    }

    func service(
        _ tsa: (any TimestampAuthority)?, oci: RecordingStorage = .init(kind: .oci), config: ChainsConfig = .defaults
    ) throws -> SigningService {
        oci.bundles.withLock { $0 = config.ociEncoding == .sigstoreBundle }
        return try SigningService(
            config: config, signers: FixedSigners(signer: KeySigner(key: key, hash: .sha256Always, origin: "test")),
            backends: [TektonStorage(), oci], cluster: ObjectStore(), timestamps: tsa)
    }

    /// What a first attempt leaves on the run when storage is down: its attempt records.
    func records(_ tsa: (any TimestampAuthority)?) async throws -> [String: String] {
        let down = RecordingStorage(kind: .oci) { _ in StorageError(backend: .oci, item: "x", reason: "down") }
        let outcome = try await service(tsa, oci: down).sign(try run())
        #expect(!outcome.succeeded && outcome.annotations.attempts.count == 2)
        return outcome.annotations.attempts
    }

    @Test("each new signature is timestamped over what its bundle carries; the bundle and the attempt record keep it")
    func stamped() async throws {
        let tsa = TimestampDouble()
        let oci = RecordingStorage(kind: .oci)
        let outcome = try await service(tsa, oci: oci).sign(try run())
        #expect(outcome.succeeded, "\(outcome.failures)")
        #expect(tsa.made == 2)
        for artifact in outcome.artifacts {
            let stamp = try #require(artifact.timestamps.first)
            try await tsa.verify(stamp, signature: try #require(artifact.signed.bundleSignature))
            let bundle = try artifact.signed.sigstoreBundle()
            #expect(
                bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.map(\.signedTimestamp)
                    == [stamp.der.base64EncodedString()])
        }
        // Storage got the timestamp with the signature: a bundle it writes carries it.
        #expect(oci.items.allSatisfy { $0.timestamps.count == 1 })
        // No authority: no timestamps, and the bundle has no timestampVerificationData.
        let plain = try await service(nil).sign(try run())
        #expect(plain.artifacts.allSatisfy { $0.timestamps.isEmpty })
        #expect(try plain.artifacts[0].signed.sigstoreBundle().verificationMaterial.timestampVerificationData == nil)
        let records = try await records(tsa)
        for value in records.values {
            let record = try JSONDecoder().decode(AttemptRecord.self, from: Data(value.utf8))
            #expect(record.timestamps?.count == 1)
        }
    }

    @Test("a retry that reuses its signatures keeps their timestamps: the authority is not asked again")
    func retryKeepsTimestamp() async throws {
        let tsa = TimestampDouble()
        let records = try await records(tsa)
        let before = tsa.made
        let outcome = try await service(tsa).sign(try run(annotations: records))
        #expect(outcome.succeeded && outcome.artifacts.allSatisfy(\.reused), "\(outcome.diagnostics)")
        #expect(tsa.made == before, "a reused signature was timestamped again")
        for artifact in outcome.artifacts {
            let record = try JSONDecoder().decode(
                AttemptRecord.self,
                from: Data(try #require(records[AttemptRecord.key(shortKey: artifact.shortKey)]).utf8))
            #expect(artifact.timestamps.map { $0.der.base64EncodedString() } == record.timestamps)
        }
    }

    @Test(
        "a record's timestamp is trusted only when the configured authority verifies it over the record's signature")
    func plantedTimestamps() async throws {
        let tsa = TimestampDouble()
        let genuine = try await records(tsa)
        func refused(_ planted: [String: String], _ tsa: (any TimestampAuthority)?, _ reason: String) async throws {
            let outcome = try await service(tsa).sign(try run(annotations: planted))
            #expect(outcome.succeeded && outcome.artifacts.allSatisfy { !$0.reused }, "\(outcome.diagnostics)")
            let warnings = outcome.diagnostics.filter { $0.topic == .attemptRecord }
            #expect(warnings.count == 2 && warnings.allSatisfy { $0.message.contains(reason) }, "\(warnings)")
        }
        func rewritten(_ change: (inout AttemptRecord) throws -> Void) throws -> [String: String] {
            try genuine.mapValues { value in
                var record = try JSONDecoder().decode(AttemptRecord.self, from: Data(value.utf8))
                try change(&record)
                return record.annotationValue
            }
        }
        // Another authority's timestamp (the same form, another key).
        let other = TimestampDouble(address: tsa.address)
        let foreign = try await other.timestamp(signature: Data("x".utf8))
        try await refused(
            try rewritten { $0.timestamps = [foreign.der.base64EncodedString()] }, tsa,
            "is not one \(tsa.address) made over its signature: not signed by this authority")
        // Ours, but over another signature.
        let elsewhere = try await tsa.timestamp(signature: Data("another signature".utf8))
        try await refused(
            try rewritten { $0.timestamps = [elsewhere.der.base64EncodedString()] }, tsa, "over another signature")
        // One, while none is configured.
        try await refused(genuine, nil, "it carries a timestamp, and this configuration has no timestamp authority")
        // None, while an authority is configured: a signature whose timestamp an earlier attempt could not get — its
        // signature is reused (checked as always) and timestamped now.
        let before = tsa.made
        let stampedNow = try await service(tsa).sign(try run(annotations: try rewritten { $0.timestamps = nil }))
        #expect(stampedNow.succeeded && stampedNow.artifacts.allSatisfy(\.reused), "\(stampedNow.diagnostics)")
        #expect(stampedNow.artifacts.allSatisfy { $0.timestamps.count == 1 } && tsa.made == before + 2)
    }

    @Test(
        "the authority down: retryable at signing, nothing stored, the signatures kept; the retry reuses and stamps them"
    )
    func authorityDown() async throws {
        let tsa = TimestampDouble()
        tsa.fail(true)
        let oci = RecordingStorage(kind: .oci)
        let outcome = try await service(tsa, oci: oci).sign(try run())
        #expect(!outcome.succeeded && outcome.isRetryable, "\(outcome.failures)")
        #expect(outcome.failures.allSatisfy { $0.stage == .signing && "\($0.error)".contains(tsa.address) })
        #expect(oci.items.isEmpty && outcome.artifacts.allSatisfy { $0.receipts.isEmpty })
        #expect(outcome.annotations.attempts.count == 2, "the signatures are kept for the retry")
        tsa.fail(false)
        let retry = try await service(tsa, oci: oci).sign(try run(annotations: outcome.annotations.attempts))
        #expect(retry.succeeded && retry.artifacts.allSatisfy(\.reused), "\(retry.diagnostics)")
        #expect(retry.artifacts.allSatisfy { $0.timestamps.count == 1 } && oci.items.count == 1)
        for artifact in retry.artifacts {
            let kept = try #require(outcome.artifacts.first { $0.shortKey == artifact.shortKey })
            #expect(artifact.signed.signature == kept.signed.signature, "the retry stored a new signature")
        }
    }
}

@Suite("An attempt record without a timestamp, while an authority is configured")
struct UnstampedRecordTests {
    @Test("reusable (to be stamped now) while its certificate is valid; refused once it has expired")
    func certificateMustStillBeValid() async throws {
        let made = try SelfMadeChain(identity: "https://example.com/ci", lifetime: 600)
        let record = AttemptRecord(
            format: .simpleSigning, payload: Data("payload".utf8), signature: Data("signature".utf8),
            chain: made.chain, bundleEnvelope: nil)
        let tsa = TimestampDouble()
        let leaf = made.chain[0]
        let stamps = try await record.checkTimestamps(
            signature: Data("signature".utf8), authority: tsa, leaf: leaf, now: leaf.notValidBefore + 60)
        #expect(stamps.isEmpty)
        await #expect(throws: RecordRefusal.self) {
            _ = try await record.checkTimestamps(
                signature: Data("signature".utf8), authority: tsa, leaf: leaf, now: leaf.notValidAfter + 1)
        }
        // A key-signed record (no certificate) is always stampable.
        let keyed = try await record.checkTimestamps(
            signature: Data("signature".utf8), authority: tsa, leaf: nil, now: leaf.notValidAfter + 3600)
        #expect(keyed.isEmpty)
    }

    @Test("several authorities: one timestamp from each, all or none; a record with fewer, or one twice, is refused")
    func severalAuthorities() async throws {
        let (a, b) = (TimestampDouble(address: "https://a.example"), TimestampDouble(address: "https://b.example"))
        let both = TimestampAuthorities([a, b])
        let signature = Data("signature".utf8)
        let stamps = try await both.timestamps(signature: signature)
        #expect(stamps.map(\.authority) == ["https://a.example", "https://b.example"] && a.made == 1 && b.made == 1)
        func record(_ stamps: [SignedTimestamp]) -> AttemptRecord {
            AttemptRecord(
                format: .simpleSigning, payload: Data("payload".utf8), signature: signature, chain: nil,
                bundleEnvelope: nil, timestamps: stamps)
        }
        let kept = try await record(stamps).checkTimestamps(signature: signature, authority: both)
        #expect(kept.count == 2)
        for (why, planted) in [("one of two", [stamps[0]]), ("the same twice", [stamps[0], stamps[0]])] {
            await #expect(throws: RecordRefusal.self, "\(why)") {
                _ = try await record(planted).checkTimestamps(signature: signature, authority: both)
            }
        }
        // Another authority's timestamp in the set: neither of ours verifies it.
        let stranger = try await TimestampDouble().timestamp(signature: signature)
        await #expect(throws: RecordRefusal.self) {
            _ = try await record([stamps[0], stranger]).checkTimestamps(signature: signature, authority: both)
        }
        // One authority down: the call fails, retryable, and keeps nothing.
        b.fail(true)
        await #expect(throws: TimestampDouble.Unavailable.self) { _ = try await both.timestamps(signature: signature) }
    }
}
